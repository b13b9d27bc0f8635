package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// maxS3Parts is S3's limit on the parts of one multipart upload.
const maxS3Parts = 10000

// s3Multipart writes one object to S3 with rdbak's own multipart upload,
// instead of gocloud's writer: the SDK's transfer manager behind it reads
// its first 16 MiB into one extra buffer (its multipart threshold, not
// settable through gocloud). It holds at most concurrency buffers of
// partSize, the one being filled among them: Write waits for a sent part's
// buffer when all are in use, so at most concurrency parts are in flight
// (and, with concurrency 1, filling and sending alternate). An object of at
// most one part goes up with one PutObject. Nothing is visible before
// commit; abort removes the parts sent.
type s3Multipart struct {
	ctx         context.Context // the upload's; cancelled by abort
	client      *s3.Client
	loc         *s3Location
	key         string // full key, prefix included
	contentType string
	crc32       bool // the client computes request checksums (CRC32, as the transfer manager did)
	partSize    int

	buf      []byte      // the part being filled
	free     chan []byte // buffers of sent parts, for reuse
	made     int         // buffers allocated, at most cap(free)
	uploadID *string     // set once the first part is sent
	next     int32       // the number of the next part

	wg    sync.WaitGroup
	mu    sync.Mutex
	parts []types.CompletedPart
	err   error // the first failure
}

func newS3Multipart(ctx context.Context, client *s3.Client, loc *s3Location, key, contentType string, up S3Upload) *s3Multipart {
	up = up.withDefaults()
	return &s3Multipart{
		ctx: ctx, client: client, loc: loc, key: loc.prefix + escapeS3Key(key), contentType: contentType,
		crc32:    client.Options().RequestChecksumCalculation != aws.RequestChecksumCalculationWhenRequired,
		partSize: int(up.PartSize),
		free:     make(chan []byte, up.Concurrency),
		next:     1,
	}
}

func (m *s3Multipart) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		if err := m.failed(); err != nil {
			return n, err
		}
		if m.buf != nil && len(m.buf) == m.partSize {
			// Full, and more data follows: send it as a part. A full
			// buffer with nothing after it waits for commit, so an object
			// of exactly one part still goes up with PutObject.
			if err := m.send(m.buf); err != nil {
				return n, err
			}
			m.buf = nil
		}
		if m.buf == nil {
			b, err := m.buffer()
			if err != nil {
				return n, err
			}
			m.buf = b
		}
		c := copy(m.buf[len(m.buf):m.partSize], p)
		m.buf = m.buf[:len(m.buf)+c]
		p = p[c:]
		n += c
	}
	return n, nil
}

// buffer returns an empty part buffer: a sent part's if one is free, a
// new one while fewer than concurrency exist, else the next one freed.
func (m *s3Multipart) buffer() ([]byte, error) {
	select {
	case b := <-m.free:
		return b[:0], nil
	default:
	}
	if m.made < cap(m.free) {
		m.made++
		return make([]byte, 0, m.partSize), nil
	}
	select {
	case b := <-m.free:
		return b[:0], nil
	case <-m.ctx.Done():
		return nil, m.ctx.Err()
	}
}

func (m *s3Multipart) failed() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.err
}

func (m *s3Multipart) fail(err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err == nil {
		m.err = err
	}
}

func (m *s3Multipart) checksum() types.ChecksumAlgorithm {
	if m.crc32 {
		return types.ChecksumAlgorithmCrc32
	}
	return ""
}

// send starts uploading b as the next part; b goes back to the free
// buffers when sent.
func (m *s3Multipart) send(b []byte) error {
	if err := m.ctx.Err(); err != nil {
		return err
	}
	if m.uploadID == nil {
		out, err := m.client.CreateMultipartUpload(m.ctx, &s3.CreateMultipartUploadInput{
			Bucket: aws.String(m.loc.bucket), Key: aws.String(m.key), ContentType: aws.String(m.contentType),
			ServerSideEncryption: m.loc.sse, SSEKMSKeyId: m.loc.kmsKeyID, ChecksumAlgorithm: m.checksum(),
		})
		if err != nil {
			return fmt.Errorf("start multipart upload: %w", err)
		}
		m.uploadID = out.UploadId
	}
	if m.next > maxS3Parts {
		return fmt.Errorf("the data object needs more than %d parts of %d bytes: raise the s3:// URL parameter %s (storage.s3.partSize)", maxS3Parts, m.partSize, paramS3PartSize)
	}
	num := m.next
	m.next++
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		out, err := m.client.UploadPart(m.ctx, &s3.UploadPartInput{
			Bucket: aws.String(m.loc.bucket), Key: aws.String(m.key), UploadId: m.uploadID,
			PartNumber: aws.Int32(num), Body: bytes.NewReader(b), ContentLength: aws.Int64(int64(len(b))),
			ChecksumAlgorithm: m.checksum(),
		})
		m.mu.Lock()
		if err != nil {
			if m.err == nil {
				m.err = fmt.Errorf("upload part %d: %w", num, err)
			}
		} else {
			m.parts = append(m.parts, types.CompletedPart{PartNumber: aws.Int32(num), ETag: out.ETag, ChecksumCRC32: out.ChecksumCRC32})
		}
		m.mu.Unlock()
		m.free <- b
	}()
	return nil
}

// commit sends what is left and makes the object visible. On failure it
// aborts the upload on the upload's context: after a cancellation that
// abort cannot reach S3 either, and the parts stay for gc (as when the
// process is killed); the caller's Abort, on a live context, is what
// cleans up a cancelled upload.
func (m *s3Multipart) commit() error {
	if m.uploadID == nil {
		if err := m.failed(); err != nil {
			return err
		}
		_, err := m.client.PutObject(m.ctx, &s3.PutObjectInput{
			Bucket: aws.String(m.loc.bucket), Key: aws.String(m.key), ContentType: aws.String(m.contentType),
			Body: bytes.NewReader(m.buf), ContentLength: aws.Int64(int64(len(m.buf))),
			ServerSideEncryption: m.loc.sse, SSEKMSKeyId: m.loc.kmsKeyID, ChecksumAlgorithm: m.checksum(),
		})
		return err
	}
	err := m.failed()
	if err == nil {
		err = m.send(m.buf)
	}
	m.wg.Wait()
	if err == nil {
		err = m.failed()
	}
	if err == nil {
		sort.Slice(m.parts, func(i, j int) bool { return *m.parts[i].PartNumber < *m.parts[j].PartNumber })
		_, err = m.client.CompleteMultipartUpload(m.ctx, &s3.CompleteMultipartUploadInput{
			Bucket: aws.String(m.loc.bucket), Key: aws.String(m.key), UploadId: m.uploadID,
			MultipartUpload: &types.CompletedMultipartUpload{Parts: m.parts},
		})
	}
	if err != nil {
		return errors.Join(err, m.abortUpload(m.ctx))
	}
	return nil
}

// abort waits for the parts in flight (the caller cancelled m.ctx) and
// removes the parts sent.
func (m *s3Multipart) abort(ctx context.Context) error {
	m.wg.Wait()
	return m.abortUpload(ctx)
}

func (m *s3Multipart) abortUpload(ctx context.Context) error {
	if m.uploadID == nil {
		return nil
	}
	_, err := m.client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String(m.loc.bucket), Key: aws.String(m.key), UploadId: m.uploadID})
	var nsu *types.NoSuchUpload
	if err != nil && !errors.As(err, &nsu) {
		return fmt.Errorf("abort multipart upload of %s: %w", m.key, err)
	}
	return nil
}

// escapeS3Key escapes key as gocloud's s3blob does (control characters,
// and the slash of "../", hex-escaped), so the object is where the
// bucket's readers look for it.
func escapeS3Key(key string) string {
	var b []byte
	for i := 0; i < len(key); i++ {
		c := key[i]
		if c < 32 || (c == '/' && i > 1 && key[i-2:i] == "..") {
			b = fmt.Appendf(b, "__0x%x__", c)
			continue
		}
		b = append(b, c)
	}
	return string(b)
}
