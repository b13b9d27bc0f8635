package config

import (
	"net/url"
	"reflect"

	"go.yaml.in/yaml/v3"

	"github.com/rdbak/rdbak/storage"
)

// StorageSpec is the mapping form of a storage field: the URL, and
// settings that rdbak folds into it as URL parameters, so that a storage
// field always ends up as one URL.
//
//	storage:
//	  url: s3://bucket/prefix?region=eu-west-1
//	  s3: {partSize: 16MiB, concurrency: 4}
type StorageSpec struct {
	URL string    `yaml:"url"`
	S3  S3Storage `yaml:"s3"`
}

// S3Storage tunes uploads to an s3:// URL: the URL parameters part_size
// and concurrency (storage.S3Upload). Memory is partSize × concurrency.
type S3Storage struct {
	PartSize    string `yaml:"partSize"`    // e.g. 16MiB; default 8MiB
	Concurrency int    `yaml:"concurrency"` // parts uploaded at once; default 2
}

// storageField decodes a storage field given as a mapping (StorageSpec)
// into v, the field's URL string.
func (d *decoder) storageField(n *yaml.Node, v reflect.Value, path string) {
	var spec StorageSpec
	d.mapping(n, reflect.ValueOf(&spec).Elem(), path)
	if o, ok := d.origin[join(path, "url")]; ok {
		d.origin[path] = origin{line: d.origin[path].line, env: o.env}
	}
	if spec.URL == "" {
		d.fail(n, join(path, "url"), "missing: the mapping form of storage needs url", "e.g. url: s3://bucket/prefix?region=eu-west-1")
		return
	}
	v.SetString(spec.URL)
	if spec.S3 == (S3Storage{}) {
		return
	}
	s3path := join(path, "s3")
	u, err := url.Parse(spec.URL)
	if err != nil {
		return // the validator names what is wrong with the URL
	}
	if u.Scheme != "s3" {
		d.fail(n, s3path, "s3 settings need an s3:// url", "remove s3:, or store to s3://")
		return
	}
	var up storage.S3Upload
	if spec.S3.PartSize != "" {
		if up.PartSize, err = storage.ParseSize(spec.S3.PartSize); err != nil {
			d.fail(n, join(s3path, "partSize"), err.Error(), "e.g. partSize: 16MiB")
			return
		}
	}
	up.Concurrency = spec.S3.Concurrency
	if err := up.Check(); err != nil {
		d.fail(n, s3path, err.Error(), "partSize 5MiB to 5GiB, concurrency 1 to 64; memory is partSize x concurrency")
		return
	}
	q := u.Query()
	up.Query(q)
	u.RawQuery = q.Encode()
	v.SetString(u.String())
}
