package app

import (
	"context"
	"fmt"
	"os"

	"github.com/rdbak/rdbak/internal/config"
	"github.com/rdbak/rdbak/internal/crypt"
	"github.com/rdbak/rdbak/internal/kube"
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

// IdentityFiles reads the identities in files (from the command line) and
// in t's encryption.identityFile (t may be nil). Each is tried in turn, so
// after a key rotation give both. No files at all is not an error here:
// restore.CheckDecryptable says so when a backup needs one.
func IdentityFiles(t *config.Target, files []string) (*crypt.Identities, error) {
	if t != nil && t.Encryption.IdentityFile != "" {
		files = append(files[:len(files):len(files)], t.Encryption.IdentityFile)
	}
	ids, err := crypt.ReadIdentityFiles(files...)
	if err != nil {
		return nil, UsageError{Err: fmt.Errorf("read identity (--identity-file or encryption.identityFile): %w", err)}
	}
	return ids, nil
}

// Identities reads the identities that decrypt the backups of the target
// --target names: the identity files given on the command line and, with a
// config file, the target's identityFile and identitySecret
// (defaults.encryption for a name the config does not list). a.Kube
// reaches the Secret (nil: KUBECONFIG, in a pod its ServiceAccount). Call
// it only for a backup that is encrypted.
func (a *App) Identities(ctx context.Context, r Request, files []string) (*crypt.Identities, error) {
	var t *config.Target
	if r.Config != "" {
		f, err := r.LoadConfig()
		if err != nil {
			return nil, err
		}
		if t, err = f.Target(r.Target); err != nil {
			t = &config.Target{Name: r.Target, Encryption: f.Defaults.Encryption}
		}
	}
	return a.targetIdentities(ctx, t, files)
}

// targetIdentities is IdentityFiles plus t's encryption.identitySecret,
// read now through the Kubernetes API (see IdentitySecret); t may be nil.
// The Secret is read whenever it is configured.
func (a *App) targetIdentities(ctx context.Context, t *config.Target, files []string) (*crypt.Identities, error) {
	ids, err := IdentityFiles(t, files)
	if err != nil || t == nil || t.Encryption.IdentitySecret == nil {
		return ids, err
	}
	kc, err := a.kubeClient()
	if err != nil {
		return nil, fmt.Errorf("read encryption.identitySecret of target %q: %w", t.Name, err)
	}
	ns, err := a.identityNamespace(t)
	if err != nil {
		return nil, err
	}
	more, err := IdentitySecret(ctx, kc, ns, t)
	if err != nil {
		return nil, err
	}
	return ids.Join(more), nil
}

// IdentitySecret reads the identities in t's encryption.identitySecret, a
// key of a Secret in namespace ns. They stay in this process's memory:
// nothing logs them, writes them to a file or passes them to a pod; only
// decrypted data leaves rdbak. Errors name the target, Secret and key.
func IdentitySecret(ctx context.Context, kc *kube.Client, ns string, t *config.Target) (*crypt.Identities, error) {
	ref := t.Encryption.IdentitySecret
	field := fmt.Sprintf("encryption.identitySecret of target %q", t.Name)
	b, err := kc.SecretData(ctx, ns, ref.Name, ref.Key)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", field, err)
	}
	ids := &crypt.Identities{}
	if err := ids.Add(b, fmt.Sprintf("secret %s/%s key %s (%s)", ns, ref.Name, ref.Key, field)); err != nil {
		return nil, UsageError{Err: err}
	}
	return ids, nil
}

// identityNamespace is the namespace of t's identitySecret: the target's
// kubernetes.namespace, else rdbak's (the kubeconfig's, in a pod its own).
func (a *App) identityNamespace(t *config.Target) (string, error) {
	if t.Kubernetes != nil && t.Kubernetes.Namespace != "" {
		return t.Kubernetes.Namespace, nil
	}
	return a.kubeFlags().Namespace()
}

// IdentitySecretPermission is the access to t's identitySecret in
// namespace ns that a restore of an encrypted backup needs, for the
// permission review before any change; nil without one.
func IdentitySecretPermission(t *config.Target, ns string) []kube.Permission {
	if t.Encryption.IdentitySecret == nil {
		return nil
	}
	return []kube.Permission{{Resource: "secrets", Verb: "get", Namespace: ns, Name: t.Encryption.IdentitySecret.Name}}
}

// kubeFlags are a.Kube, or kubectl's defaults (KUBECONFIG, else the pod's
// ServiceAccount) for a command without kubectl flags.
func (a *App) kubeFlags() *kube.Flags {
	if a.Kube != nil {
		return a.Kube
	}
	return kube.NewFlags()
}

func (a *App) kubeClient() (*kube.Client, error) { return a.kubeFlags().Client() }

// EncryptFlags are the command line's encryption, which replaces the
// target's encryption from the config.
type EncryptFlags struct {
	Recipients     []string // public keys
	RecipientsFile string
}

// Apply returns t with the flags' encryption, or t itself without them.
func (e *EncryptFlags) Apply(t *config.Target) (*config.Target, error) {
	if len(e.Recipients) == 0 && e.RecipientsFile == "" {
		return t, nil
	}
	if len(e.Recipients) > 0 && e.RecipientsFile != "" {
		return nil, usagef("give --encrypt-recipient or --encrypt-recipients-file, not both")
	}
	for i, k := range e.Recipients {
		if _, err := crypt.ParseRecipient(k); err != nil {
			if _, statErr := os.Stat(k); statErr == nil {
				return nil, usagef("--encrypt-recipient takes a public key, and %s is a file: use --encrypt-recipients-file", k)
			}
			return nil, usagef("--encrypt-recipient #%d: %w", i+1, err)
		}
	}
	keys := e.Recipients
	if e.RecipientsFile != "" {
		// Read now, so that a missing, empty or malformed file is the
		// flag's usage error, not a failed backup naming a config key.
		var err error
		if keys, err = crypt.RecipientsFileKeys(e.RecipientsFile); err == nil {
			_, err = crypt.NewRecipients(keys)
		}
		if err != nil {
			return nil, usagef("--encrypt-recipients-file: %w", err)
		}
	}
	tc := *t
	tc.Encryption = config.Encryption{Recipients: keys}
	return &tc, nil
}

// ImportRecipients returns what an import into --target is encrypted to:
// the flags, else the config target's encryption (defaults.encryption for a
// name the config does not list), as rdbak now would.
func (r Request) ImportRecipients(e *EncryptFlags) (*crypt.Recipients, error) {
	t := &config.Target{Name: r.Target}
	if r.Config != "" {
		f, err := r.LoadConfig()
		if err != nil {
			return nil, err
		}
		t.Encryption = f.Defaults.Encryption
		if ct, err := f.Target(r.Target); err == nil {
			t = ct
		}
	}
	t, err := e.Apply(t)
	if err != nil {
		return nil, err
	}
	return Recipients(t)
}
