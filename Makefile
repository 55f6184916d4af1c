# Convenience targets; each is one documented cargo (or maturin) command.
MUSL := x86_64-unknown-linux-musl

.PHONY: release static man completions deb dist wheel test demo

release:
	cargo build --release
	@ls -l target/release/sockctl

# A fully static x86_64 binary: one file to copy into a FROM-scratch container.
static:
	@if ! rustc --print target-libdir --target $(MUSL) >/dev/null 2>&1 || \
	   ! ls "$$(rustc --print target-libdir --target $(MUSL))"/libstd-* >/dev/null 2>&1; then \
		echo "the $(MUSL) target is not installed: run 'rustup target add $(MUSL)'" >&2; exit 1; \
	fi
	cargo build --release --target $(MUSL)
	@mkdir -p target/static && cp target/$(MUSL)/release/sockctl target/static/sockctl
	@file target/static/sockctl
	@ls -l target/static/sockctl

# The manual pages, from the same definitions as --help: target/man/sockctl.1 and one per
# subcommand.
man:
	cargo run --release --quiet --features man --bin sockctl-man -- target/man
	@ls target/man

completions: release
	@mkdir -p target/completions
	target/release/sockctl completions bash > target/completions/sockctl.bash
	target/release/sockctl completions zsh > target/completions/_sockctl
	target/release/sockctl completions fish > target/completions/sockctl.fish

# What operators install, from the static binary (scripts/package.sh says how they are made):
# target/dist/sockctl_VERSION-1_amd64.deb and target/dist/sockctl-VERSION-x86_64-linux.tar.gz,
# each with the manual pages, the completions, the README and the licences.
deb: static
	./scripts/package.sh deb

dist: static
	./scripts/package.sh dist

# A Python wheel whose only content is the sockctl binary (pip install . does the same).
wheel:
	python3 -m pip wheel . --no-deps -w target/wheels
	@ls -l target/wheels

test:
	./scripts/test.sh

demo:
	./scripts/demo.sh
