package app

import (
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rdbak/rdbak/internal/kubeapi/kubeapitest"

	"filippo.io/age"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/rdbak/rdbak/internal/config"
	"github.com/rdbak/rdbak/internal/kube"
	"github.com/rdbak/rdbak/internal/testenv"
	"github.com/rdbak/rdbak/restore"
	"github.com/rdbak/rdbak/storage"
)

// TestEncryptedScheduledBackup takes the daemon's path (ScheduledBackup,
// hence Backup) for a config target with encryption from defaults, and
// restores it with the config's identityFile.
func TestEncryptedScheduledBackup(t *testing.T) {
	r := testenv.StartRedis(t, testenv.RedisOptions{})
	testenv.FillAllTypes(t, r, 1)
	dir := t.TempDir()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	write := func(name, s string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("recipients.txt", "# backup key\n"+id.Recipient().String()+"\n")
	write("key.txt", id.String()+"\n")
	yaml := "storage: file://" + filepath.Join(dir, "repo") + "\ndefaults:\n  encryption: {recipientsFile: recipients.txt, identityFile: key.txt}\n" +
		"targets:\n  - {name: cache, redis: redis://" + r.Addr + "}\n"
	cfg, err := config.Parse([]byte(yaml), filepath.Join(dir, "rdbak.yaml"), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	repo, err := storage.Open(t.Context(), cfg.Storage, storage.Options{Create: true})
	if err != nil {
		t.Fatal(err)
	}
	defer repo.Close()
	logs := &testenv.Buffer{}
	a := &App{Log: slog.New(slog.NewTextHandler(logs, nil)), Version: "test"}
	tgt := &cfg.Targets[0]
	res, err := a.ScheduledBackup(t.Context(), cfg, tgt, repo)
	if err != nil {
		t.Fatalf("backup: %v\n%s", err, logs)
	}
	m := res.Manifest
	if e := m.Data.Encryption; e == nil || len(e.Recipients) != 1 || e.Recipients[0] != id.Recipient().String() {
		t.Fatalf("data.encryption = %+v, want the recipient of recipients.txt", e)
	}
	if err := restore.CheckDecryptable(m, nil); err == nil {
		t.Error("CheckDecryptable without identities: nil, want ErrNeedIdentity")
	}
	ids, err := IdentityFiles(tgt, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := restore.Fetch(t.Context(), repo, m, io.Discard, restore.FetchOptions{Identities: ids}); err != nil {
		t.Errorf("verify with encryption.identityFile: %v", err)
	}

	t.Run("identitySecret", func(t *testing.T) { identitySecretCases(t, repo, m, id) })

	// A recipients file that holds a private key fails before Redis is
	// asked for anything, and stores nothing.
	write("recipients.txt", id.String()+"\n")
	if _, err := a.ScheduledBackup(t.Context(), cfg, tgt, repo); err == nil {
		t.Error("backup to a private key as recipient: nil error")
	}
	if ms, _, _ := repo.List(t.Context(), "cache"); len(ms) != 1 {
		t.Errorf("%d backups after the failed one, want 1", len(ms))
	}
}

// TestPlanRestoreNeedsIdentity: a restore of an encrypted backup into
// Kubernetes without an identity is refused before any cluster is reached.
func TestPlanRestoreNeedsIdentity(t *testing.T) {
	a := &App{Log: slog.New(slog.DiscardHandler)}
	m := &storage.Manifest{ID: "x", Data: storage.Data{Encryption: &storage.Encryption{Scheme: "age", Recipients: []string{"age1..."}}}}
	tgt := &config.Target{Name: "cache", Kubernetes: &config.KubeTarget{Pod: "redis-0"}}
	_, err := a.PlanRestore(t.Context(), nil, m, tgt, RestoreOptions{})
	if !errors.Is(err, restore.ErrNeedIdentity) || !strings.Contains(err.Error(), "--identity-file") {
		t.Errorf("PlanRestore = %v, want ErrNeedIdentity naming --identity-file", err)
	}
}

// identitySecretCases reads identities from Secrets as a user and an
// attacker would set them up: the right one opens backup m (CheckIdentity
// reads its header only); a typo'd name, a missing key, a public key, an
// empty value, a wrong identity and no RBAC each fail naming the Secret
// and key, and no error or log shows the identity.
func identitySecretCases(t *testing.T, repo *storage.Repo, m *storage.Manifest, id *age.X25519Identity) {
	other, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	secret := func(name string, data map[string]string) *corev1.Secret {
		s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "prod"}, Data: map[string][]byte{}}
		for k, v := range data {
			s.Data[k] = []byte(v)
		}
		return s
	}
	cs := fake.NewClientset(
		secret("rdbak-identity", map[string]string{"identity": "# created by age-keygen\n" + id.String() + "\n", "public": id.Recipient().String() + "\n", "empty": ""}),
		secret("wrong", map[string]string{"identity": other.String()}),
	)
	cs.PrependReactor("get", "secrets", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.(k8stesting.GetAction).GetName() == "locked" {
			return true, nil, apierrors.NewForbidden(corev1.Resource("secrets"), "locked", errors.New("RBAC: access denied"))
		}
		return false, nil, nil
	})
	kc := &kube.Client{API: kubeapitest.Wrap(cs)}
	for _, c := range []struct {
		name, secret, key string
		says              []string // empty: it opens m
		forbidden         bool
	}{
		{name: "the identity", secret: "rdbak-identity", key: "identity"},
		{name: "typo'd name", secret: "rdbak-identiy", key: "identity", says: []string{"secret prod/rdbak-identiy does not exist", `target "cache"`}},
		{name: "missing key", secret: "rdbak-identity", key: "key.txt", says: []string{`secret prod/rdbak-identity has no key "key.txt"`, "empty, identity, public"}},
		{name: "public key", secret: "rdbak-identity", key: "public", says: []string{"secret prod/rdbak-identity key public", "public key"}},
		{name: "empty", secret: "rdbak-identity", key: "empty", says: []string{"secret prod/rdbak-identity key empty", "is empty"}},
		{name: "wrong identity", secret: "wrong", key: "identity", says: []string{"none of the given identities", id.Recipient().String()}},
		{name: "no RBAC", secret: "locked", key: "identity", forbidden: true,
			says: []string{"missing Kubernetes permissions", "get secrets locked in namespace prod", `resourceNames: ["locked"]`}},
	} {
		t.Run(c.name, func(t *testing.T) {
			tgt := &config.Target{Name: "cache", Encryption: config.Encryption{IdentitySecret: &config.SecretRef{Name: c.secret, Key: c.key}}}
			ids, err := IdentitySecret(t.Context(), kc, "prod", tgt)
			if err == nil {
				err = restore.CheckIdentity(t.Context(), repo, m, ids)
			}
			if len(c.says) == 0 {
				if err != nil {
					t.Fatalf("the identity from the Secret: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("nil error")
			}
			for _, s := range c.says {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not say %q", err, s)
				}
			}
			if errors.Is(err, kube.ErrForbidden) != c.forbidden {
				t.Errorf("errors.Is(%v, ErrForbidden) = %v, want %v", err, !c.forbidden, c.forbidden)
			}
			for _, key := range []string{id.String(), other.String()} {
				if strings.Contains(err.Error(), key) {
					t.Errorf("error shows an identity: %v", err)
				}
			}
		})
	}
}
