# spate in a container: built on Debian 12 with the build packages of
# scripts/deps, packaged by CPack as a .deb, and installed into a slim
# Debian 12 image with only the runtime libraries that package depends on.
#
#   docker build -t spate .
#   docker run --rm -v "$PWD/data:/data" spate run /data/flow.yaml
#   docker run --rm spate worker --nats nats://nats:4222
FROM debian:12 AS build
RUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	build-essential cmake ninja-build pkg-config \
	liburing-dev libck-dev libzstd-dev libjemalloc-dev \
	libyaml-dev libsqlite3-dev libxxhash-dev libpcre2-dev libisal-dev \
	liblz4-dev libcurl4-openssl-dev libnats-dev libpq-dev libmariadb-dev \
	python3 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# the engine and the command only: no test suite in the image
RUN cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release \
	-DSPATE_TESTS=OFF && cmake --build build \
	&& cd build && cpack -G DEB -B /pkg

FROM debian:12-slim
COPY --from=build /pkg/spate_*.deb /tmp/
# apt resolves the package's Depends (the shared libraries it links, and
# the network clients it loads when a flow first uses them)
RUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	/tmp/spate_*.deb && rm -rf /var/lib/apt/lists/* /tmp/spate_*.deb \
	&& useradd --system --home-dir /var/lib/spate --create-home spate
USER spate
WORKDIR /var/lib/spate
ENTRYPOINT ["spate"]
CMD ["--help"]
