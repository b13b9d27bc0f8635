package app

import (
	"fmt"

	"github.com/rdbak/rdbak/internal/config"
	"github.com/rdbak/rdbak/internal/crypt"
)

// Recipients returns the public keys t's backups are encrypted to, reading
// its recipientsFile now (so a rotated file takes effect at the next
// backup); nil when t is not encrypted.
func Recipients(t *config.Target) (*crypt.Recipients, error) {
	e := t.Encryption
	if !e.Encrypts() {
		return nil, nil
	}
	keys, field := e.Recipients, "encryption.recipients"
	if e.RecipientsFile != "" {
		var err error
		if keys, err = crypt.RecipientsFileKeys(e.RecipientsFile); err != nil {
			return nil, fmt.Errorf("read encryption.recipientsFile of target %q: %w", t.Name, err)
		}
		field = "encryption.recipientsFile " + e.RecipientsFile
	}
	r, err := crypt.NewRecipients(keys)
	if err != nil {
		return nil, UsageError{Err: fmt.Errorf("%s of target %q: %w", field, t.Name, err)}
	}
	return r, nil
}

// Identities reads the identities that decrypt t's backups: the files
// given on the command line, then t's encryption.identityFile (t may be
// nil). Each is tried in turn, so after a key rotation give both. No files
// at all is not an error here: restore.CheckDecryptable says so when a
// backup needs one.
func Identities(t *config.Target, files []string) (*crypt.Identities, error) {
	if t != nil && t.Encryption.IdentityFile != "" {
		files = append(files[:len(files):len(files)], t.Encryption.IdentityFile)
	}
	ids, err := crypt.ReadIdentityFiles(files...)
	if err != nil {
		return nil, UsageError{Err: fmt.Errorf("read identity (--identity-file or encryption.identityFile): %w", err)}
	}
	return ids, nil
}
