// Package docker holds no code: its directory has the project's container images (Dockerfile for
// CPU, Dockerfile.cuda for NVIDIA GPUs, see README.md) and the checks that keep them pinned.
//
// The tests of this package (versions_test.go) parse both Dockerfiles and fail when a version
// pinned there drifts from the one place that owns it: the Go image tag from the go/toolchain lines
// of go.mod and tools/go.mod, GoNB, goimports and gopls from tools/go.mod, GoMLX and go-xla from
// go.mod. They also reject `@latest`, `:latest` and untagged base images, and malformed lines in
// cuda-wheels.txt. lint.sh lints the Dockerfiles with a pinned dockerfile-utils.
package docker
