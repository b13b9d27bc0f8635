package main

import (
	"context"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/rdbak/rdbak/internal/app"
	"github.com/rdbak/rdbak/internal/config"
	"github.com/rdbak/rdbak/internal/crypt"
	"github.com/rdbak/rdbak/internal/kube"
	"github.com/rdbak/rdbak/restore"
	"github.com/rdbak/rdbak/storage"
)

const identityFlagHelp = "age identity file (age-keygen output) or SSH private key that decrypts an encrypted backup; repeat it after a key rotation (each is tried); adds to the config's encryption.identityFile and identitySecret"

func addIdentityFlag(cmd *cobra.Command, files *[]string) {
	cmd.Flags().StringArrayVar(files, "identity-file", nil, identityFlagHelp)
}

// identities reads --identity-file and, with --config, the identityFile
// and identitySecret of the target t (or of the one --target selects, when
// t is nil; defaults.encryption for a name the config does not list). kf
// reaches the Secret (nil: KUBECONFIG or the pod's ServiceAccount).
func (g *globals) identities(ctx context.Context, kf *kube.Flags, t *config.Target, files []string) (*crypt.Identities, error) {
	if t == nil && g.config != "" {
		f, err := g.loadConfig()
		if err != nil {
			return nil, err
		}
		if t, err = f.Target(g.target); err != nil {
			t = &config.Target{Name: g.target, Encryption: f.Defaults.Encryption}
		}
	}
	return g.cliApp(kf).Identities(ctx, t, files)
}

// encryptFlags are rdbak now's ad hoc encryption, which replaces the
// target's encryption from the config.
type encryptFlags struct {
	recipients     []string
	recipientsFile string
}

func (e *encryptFlags) add(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringArrayVar(&e.recipients, "encrypt-recipient", nil, "encrypt the backup with age to this public key (age1... or ssh-ed25519/ssh-rsa); repeatable; replaces the config's encryption")
	f.StringVar(&e.recipientsFile, "encrypt-recipients-file", "", "encrypt the backup with age to the public keys in this file, one a line")
}

// apply returns t with the flags' encryption, or t itself without them.
func (e *encryptFlags) apply(t *config.Target) (*config.Target, error) {
	if len(e.recipients) == 0 && e.recipientsFile == "" {
		return t, nil
	}
	if len(e.recipients) > 0 && e.recipientsFile != "" {
		return nil, usagef("give --encrypt-recipient or --encrypt-recipients-file, not both")
	}
	for i, k := range e.recipients {
		if _, err := crypt.ParseRecipient(k); err != nil {
			if _, statErr := os.Stat(k); statErr == nil {
				return nil, usagef("--encrypt-recipient takes a public key, and %s is a file: use --encrypt-recipients-file", k)
			}
			return nil, usagef("--encrypt-recipient #%d: %w", i+1, err)
		}
	}
	tc := *t
	tc.Encryption = config.Encryption{Recipients: e.recipients, RecipientsFile: e.recipientsFile}
	return &tc, nil
}

// verifyStored is verify of an encrypted backup without an identity: it
// checks the stored object and says plainly what it did not check.
func (g *globals) verifyStored(ctx context.Context, repo *storage.Repo, m *storage.Manifest) error {
	log := g.log.With("target", m.Target, "backup_id", m.ID)
	rep, err := restore.FetchStored(ctx, repo, m, nil)
	if err != nil {
		log.Error("verify failed", "error", err.Error())
		return err
	}
	log.Warn("verify checked the stored object only: the backup is encrypted and no identity was given; pass --identity-file to check its content")
	if structured, _ := g.jsonOutput(); structured {
		return g.writeResult(verifyResult{Target: m.Target, ID: m.ID, Status: verifyStoredOK, Encrypted: true, StoredBytes: rep.StoredSize,
			Note: "encrypted (" + m.Data.Encryption.Scheme + ") and no identity given: only the stored size and SHA-256 were checked, not the content (RDB, CRC-64, keys); pass --identity-file to verify it"})
	}
	_, err = fmt.Fprintf(g.stdout, "STORED-OK %s/%s: %s stored, size and SHA-256 match; encrypted (%s), content NOT checked (RDB, CRC-64, keys): pass --identity-file to verify it\n",
		m.Target, m.ID, humanBytes(rep.StoredSize), m.Data.Encryption.Scheme)
	return err
}

// recipients returns what an import into --target is encrypted to: the
// flags, else the config target's encryption (defaults.encryption for a
// name the config does not list), as rdbak now would.
func (g *globals) recipients(ef *encryptFlags) (*crypt.Recipients, error) {
	t := &config.Target{Name: g.target}
	if g.config != "" {
		f, err := g.loadConfig()
		if err != nil {
			return nil, err
		}
		t.Encryption = f.Defaults.Encryption
		if ct, err := f.Target(g.target); err == nil {
			t = ct
		}
	}
	t, err := ef.apply(t)
	if err != nil {
		return nil, err
	}
	return app.Recipients(t)
}
