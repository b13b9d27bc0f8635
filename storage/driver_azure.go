//go:build !rdbak_noazure

package storage

// azblob:// URLs; build with the tag rdbak_noazure to leave the Azure SDK
// out (see driverTag).
import _ "gocloud.dev/blob/azureblob"
