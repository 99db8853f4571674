# The two quick-start commands (README): `make demo` and `make test`.
# Each installs what is missing, builds, and runs.
BUILD ?= build
JOBS ?= $(shell nproc)

.PHONY: all deps build test demo bench clean

all: build

deps:
	@bash scripts/install-deps

$(BUILD)/build.ninja: CMakeLists.txt
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo

build: deps $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS)

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) --timeout 900

demo: build
	bash scripts/demo.sh $(BUILD)/lifeboat

bench: build
	python3 bench/run_bench.py --lifeboat $(BUILD)/lifeboat

clean:
	rm -rf $(BUILD)
