// Package crypt adapts filippo.io/age to rdbak's encryption at rest: the
// recipients a backup is encrypted to, as the config file, flags and
// manifests write them (public keys, one a string), and the identities that
// decrypt it.
//
// Invariants: nothing here puts an identity (a private key) in an error
// message or in anything Keys returns; recipients are public and are
// recorded in manifests, identities never are.
package crypt

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"filippo.io/age"
	"filippo.io/age/agessh"
)

// SchemeAge is the scheme manifests record for objects encrypted with age.
const SchemeAge = "age"

// ErrNoIdentity means an encrypted backup was read without any identity.
var ErrNoIdentity = errors.New("the backup is encrypted and no identity was given")

// ErrWrongIdentity means none of the given identities decrypts the object:
// it was encrypted to other recipients.
var ErrWrongIdentity = errors.New("none of the given identities matches the backup's recipients")

// maxFile bounds what ReadRecipientsFile and ReadIdentityFile read, so a
// mistaken path such as /dev/zero fails instead of filling memory.
const maxFile = 1 << 20

// Recipients are the public keys a backup is encrypted to.
type Recipients struct {
	list []age.Recipient
	keys []string
}

// ParseRecipient parses one public key: an age X25519 key (age1...), an
// age post-quantum hybrid key (age1pq1...), or an SSH public key
// (ssh-ed25519 or ssh-rsa, as in authorized_keys).
func ParseRecipient(s string) (age.Recipient, error) {
	s = strings.TrimSpace(s)
	switch {
	case strings.HasPrefix(s, "age1pq1"):
		return age.ParseHybridRecipient(s)
	case strings.HasPrefix(s, "age1"):
		return age.ParseX25519Recipient(s)
	case strings.HasPrefix(s, "ssh-"):
		return agessh.ParseRecipient(s)
	case strings.HasPrefix(s, "AGE-SECRET-KEY-"):
		// Never echo it: it is a private key.
		return nil, errors.New("this is an age identity (a private key), not a recipient: give its public key (age-keygen -y)")
	}
	return nil, errors.New("unknown recipient type: want an age public key (age1...) or an SSH public key (ssh-ed25519 ..., ssh-rsa ...)")
}

// NewRecipients parses keys (see ParseRecipient). Errors name the key by
// its position; it must have at least one.
func NewRecipients(keys []string) (*Recipients, error) {
	r := &Recipients{}
	for i, k := range keys {
		rec, err := ParseRecipient(k)
		if err != nil {
			return nil, fmt.Errorf("recipient %d: %w", i+1, err)
		}
		r.list = append(r.list, rec)
		r.keys = append(r.keys, strings.TrimSpace(k))
	}
	if len(r.list) == 0 {
		return nil, errors.New("no recipients")
	}
	return r, nil
}

// RecipientsFileKeys reads a recipients file: one public key a line, blank
// lines and lines starting with # ignored (age's -R format).
func RecipientsFileKeys(path string) ([]string, error) {
	b, err := readSmall(path)
	if err != nil {
		return nil, err
	}
	var keys []string
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		keys = append(keys, line)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%s holds no recipients", path)
	}
	return keys, nil
}

// Keys returns the public keys, as given, for the manifest.
func (r *Recipients) Keys() []string { return append([]string(nil), r.keys...) }

// Encrypt returns a writer that encrypts to r into w. Close it to write
// the last chunk; it does not close w. Memory stays constant.
func (r *Recipients) Encrypt(w io.Writer) (io.WriteCloser, error) {
	enc, err := age.Encrypt(w, r.list...)
	if err != nil {
		return nil, fmt.Errorf("start age encryption: %w", err)
	}
	return enc, nil
}

// Identities are the private keys that may decrypt a backup. Several may be
// given, e.g. the current and the previous one after a key rotation; each is
// tried.
type Identities struct {
	list []age.Identity
}

// ReadIdentityFiles reads age identity files (AGE-SECRET-KEY-1... lines, as
// age-keygen writes them) or unencrypted SSH private keys. Errors name the
// file, never its content.
func ReadIdentityFiles(paths ...string) (*Identities, error) {
	ids := &Identities{}
	for _, p := range paths {
		b, err := readSmall(p)
		if err != nil {
			return nil, err
		}
		if err := ids.Add(b, "identity file "+p); err != nil {
			return nil, err
		}
	}
	return ids, nil
}

// Add parses b as ReadIdentityFiles parses a file's content and adds what
// it holds; where names b in errors (e.g. "secret ns/name key k"). Errors
// never quote b: a public key where an identity belongs, an empty value and
// a passphrase-protected SSH key each get their own message.
func (ids *Identities) Add(b []byte, where string) error {
	t := bytes.TrimSpace(b)
	switch {
	case len(t) == 0:
		return fmt.Errorf("read %s: it is empty, want an age identity (AGE-SECRET-KEY-1..., age-keygen output) or an SSH private key", where)
	case bytes.HasPrefix(t, []byte("age1")) || bytes.HasPrefix(t, []byte("ssh-")):
		return fmt.Errorf("read %s: it holds a public key (a recipient), which cannot decrypt: give the private key it belongs to (AGE-SECRET-KEY-1..., age-keygen output) or the SSH private key", where)
	case bytes.HasPrefix(t, []byte("-----BEGIN")):
		id, err := agessh.ParseIdentity(t)
		if err != nil {
			return fmt.Errorf("read %s: not a usable SSH private key (passphrase-protected keys are not supported): %w", where, err)
		}
		ids.list = append(ids.list, id)
		return nil
	}
	parsed, err := age.ParseIdentities(bytes.NewReader(b))
	if err != nil {
		// age's errors name the line, never the key.
		return fmt.Errorf("read %s: %w", where, err)
	}
	ids.list = append(ids.list, parsed...)
	return nil
}

// Join returns the identities of ids followed by those of more.
func (ids *Identities) Join(more *Identities) *Identities {
	out := &Identities{}
	if ids != nil {
		out.list = append(out.list, ids.list...)
	}
	if more != nil {
		out.list = append(out.list, more.list...)
	}
	return out
}

// Len returns the number of identities.
func (ids *Identities) Len() int {
	if ids == nil {
		return 0
	}
	return len(ids.list)
}

// Decrypt returns the plaintext of the age object r. It reads the header
// now: an error wrapping ErrWrongIdentity means no identity matches,
// ErrNoIdentity that none was given; other errors mean a damaged header or a
// failing r. Errors in the body surface from Read.
func (ids *Identities) Decrypt(r io.Reader) (io.Reader, error) {
	if ids.Len() == 0 {
		return nil, ErrNoIdentity
	}
	pt, err := age.Decrypt(r, ids.list...)
	var nomatch *age.NoIdentityMatchError
	if errors.As(err, &nomatch) {
		return nil, fmt.Errorf("%w (%d tried)", ErrWrongIdentity, len(ids.list))
	}
	if err != nil {
		return nil, fmt.Errorf("decrypt age header: %w", err)
	}
	return pt, nil
}

func readSmall(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxFile+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(b) > maxFile {
		return nil, fmt.Errorf("read %s: larger than %d bytes, not a key file", path, maxFile)
	}
	return b, nil
}
