# SPDX-License-Identifier: GPL-3.0-or-later
#
# The two commands of the README:
#   make demo   install what is missing, build, run the main job on shipped defaults
#   make test   install what is missing, build, run every test through ctest
# Other targets: deps, build, test-gpu, bench, install, clean.

BUILD    ?= build
JOBS     ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_ARGS ?=
PYTHON   := /usr/bin/python3

# Debian 12 packages the build, the tests and the demo need.
DEBIAN_PACKAGES := build-essential cmake pkg-config git \
	gnuradio-dev libvolk2-dev pybind11-dev libboost-dev libspdlog-dev libgmp-dev \
	libmatio-dev libhdf5-dev libfftw3-dev libopenblas-dev \
	python3-numpy python3-h5py python3-scipy python3-matplotlib python3-torch

.PHONY: all deps build demo test test-gpu bench install clean

all: build

deps:
	@missing=$$(for p in $(DEBIAN_PACKAGES); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; \
	done); \
	if [ -n "$$missing" ]; then \
		echo "Installing Debian packages:" $$missing; \
		SUDO=""; [ "$$(id -u)" -eq 0 ] || SUDO=sudo; \
		$$SUDO apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q --no-install-recommends $$missing; \
	fi

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release $(CMAKE_ARGS)

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

demo: build
	@bash examples/demo.sh $(BUILD)

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) -LE gpu

test-gpu: build
	cd $(BUILD) && ctest --output-on-failure -L gpu

install: build
	cmake --install $(BUILD)
	ldconfig

clean:
	rm -rf $(BUILD)
