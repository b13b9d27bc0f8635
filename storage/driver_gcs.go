//go:build !rdbak_nogcs

package storage

// gs:// URLs. The Google SDK's package inits keep about 5 MiB of the
// executable resident in every run, used or not; build with the tag
// rdbak_nogcs to leave it out (see driverTag).
import _ "gocloud.dev/blob/gcsblob"
