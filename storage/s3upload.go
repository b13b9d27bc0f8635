package storage

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// S3 uploads of data objects (s3Multipart) hold partSize × concurrency
// bytes in memory: concurrency buffers, the one being filled among them, so
// at most concurrency parts are in flight. The defaults keep that at
// 16 MiB (gocloud's writer, through the SDK's transfer manager, held
// partSize × (concurrency + 1) plus its 16 MiB multipart threshold: 40 MiB).
// S3 allows 10,000 parts, so partSize bounds the data object: 8 MiB parts
// allow 78 GiB of compressed RDB.
const (
	DefaultS3PartSize    = 8 << 20
	DefaultS3Concurrency = 2
	minS3PartSize        = 5 << 20 // S3's minimum for all parts but the last
	maxS3PartSize        = 5 << 30
	maxS3Concurrency     = 64
)

// The s3:// URL parameters rdbak reads itself (the driver would refuse
// them): part_size=16MiB&concurrency=4.
const (
	paramS3PartSize    = "part_size"
	paramS3Concurrency = "concurrency"
)

// S3Upload tunes multipart uploads to an s3:// repository. Zero fields
// take the defaults.
type S3Upload struct {
	PartSize    int64 // bytes per part, 5 MiB to 5 GiB
	Concurrency int   // parts uploaded at once, 1 to 64
}

// Check reports a value out of range, naming it by the URL parameter.
func (s S3Upload) Check() error {
	if s.PartSize != 0 && (s.PartSize < minS3PartSize || s.PartSize > maxS3PartSize) {
		return fmt.Errorf("%s %d is out of range: S3 parts are 5MiB to 5GiB", paramS3PartSize, s.PartSize)
	}
	if s.Concurrency < 0 || s.Concurrency > maxS3Concurrency {
		return fmt.Errorf("%s %d is out of range: 1 to %d parts at once", paramS3Concurrency, s.Concurrency, maxS3Concurrency)
	}
	return nil
}

func (s S3Upload) withDefaults() S3Upload {
	if s.PartSize == 0 {
		s.PartSize = DefaultS3PartSize
	}
	if s.Concurrency == 0 {
		s.Concurrency = DefaultS3Concurrency
	}
	return s
}

// Query adds s's non-zero fields to q as the s3:// URL parameters, for
// callers that hold the settings apart from the URL (the config file).
// A parameter the URL already has wins.
func (s S3Upload) Query(q url.Values) {
	if s.PartSize != 0 && !q.Has(paramS3PartSize) {
		q.Set(paramS3PartSize, strconv.FormatInt(s.PartSize, 10))
	}
	if s.Concurrency != 0 && !q.Has(paramS3Concurrency) {
		q.Set(paramS3Concurrency, strconv.Itoa(s.Concurrency))
	}
}

// takeS3Upload removes rdbak's own parameters from q and returns them.
func takeS3Upload(q url.Values) (S3Upload, error) {
	var s S3Upload
	if v := q.Get(paramS3PartSize); v != "" {
		n, err := ParseSize(v)
		if err != nil {
			return s, fmt.Errorf("%s: %w", paramS3PartSize, err)
		}
		s.PartSize = n
	}
	if v := q.Get(paramS3Concurrency); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return s, fmt.Errorf("%s %q is not a number of parts from 1 to %d", paramS3Concurrency, v, maxS3Concurrency)
		}
		s.Concurrency = n
	}
	q.Del(paramS3PartSize)
	q.Del(paramS3Concurrency)
	return s, s.Check()
}

// ParseSize reads a byte count: a number with an optional unit KiB, MiB
// or GiB ("16MiB", "8388608").
func ParseSize(v string) (int64, error) {
	num, mult := strings.TrimSpace(v), int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}} {
		if s, ok := strings.CutSuffix(num, u.suffix); ok {
			num, mult = strings.TrimSpace(s), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("size %q is not a number of bytes with an optional unit KiB, MiB or GiB (e.g. 16MiB)", v)
	}
	return n * mult, nil
}
