// Package footprint keeps the memory rdbak holds to what a run uses.
//
// Go runs the init functions of every package linked into the binary before
// main: about 440 of them in rdbak, most in the S3, GCS, Azure and Kubernetes
// SDKs and their protobuf and telemetry libraries, spread over the whole
// executable. Each touches a few pages, and the kernel maps 64-96 KiB around
// every page fault, so startup leaves 30-35 MiB of the executable mapped
// (text, read-only data, the function tables), most of it never used again.
// Those pages count in the process's RSS until the kernel needs memory.
// ReleaseStartupPages unmaps them, as an operating system kernel frees its
// init sections after boot; what a run needs afterwards maps again on first
// use.
package footprint
