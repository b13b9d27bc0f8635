package testcluster

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// StorageClass is the testbed's default class: local volumes, bound when the
// first pod using the claim is scheduled.
const StorageClass = "local"

// LocalPV creates a local PersistentVolume of the given size (e.g. "1Gi")
// reserved for the claim named claim in n, so a StatefulSet's
// volumeClaimTemplate (claim "<template>-<sts>-<ordinal>") binds to it. Its
// data lives in a fresh directory on this host, under the testbed's state dir,
// writable by any user; both go when the test ends.
func (n *Namespace) LocalPV(t testing.TB, claim, size string) *corev1.PersistentVolume {
	t.Helper()
	root := n.Getenv(PVDirEnv)
	if root == "" {
		if s := n.Getenv("RDBAK_TESTBED_STATE"); s != "" {
			root = filepath.Join(s, "pv")
		}
	}
	if root == "" {
		t.Fatalf("local volumes need the testbed's env file (%s or RDBAK_TESTBED_STATE unset)", PVDirEnv)
	}
	qty, err := resource.ParseQuantity(size)
	if err != nil {
		t.Fatalf("parse volume size %q: %v", size, err)
	}
	dir := filepath.Join(root, n.Name, claim)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("create local volume directory: %v", err)
	}
	// MkdirAll's mode is cut by the umask; pods may run as any user.
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatalf("make local volume directory writable: %v", err)
	}
	n.mu.Lock()
	if !slices.Contains(n.dirs, filepath.Join(root, n.Name)) {
		n.dirs = append(n.dirs, filepath.Join(root, n.Name))
	}
	n.mu.Unlock()

	pv := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{
			Name:   fmt.Sprintf("%s-%s", n.Name, claim),
			Labels: map[string]string{"app.kubernetes.io/managed-by": FieldManager},
		},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: qty},
			AccessModes:                   []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimRetain,
			StorageClassName:              StorageClass,
			ClaimRef:                      &corev1.ObjectReference{Kind: "PersistentVolumeClaim", APIVersion: "v1", Namespace: n.Name, Name: claim},
			PersistentVolumeSource: corev1.PersistentVolumeSource{
				Local: &corev1.LocalVolumeSource{Path: dir},
			},
			NodeAffinity: &corev1.VolumeNodeAffinity{Required: &corev1.NodeSelector{
				NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{{
					Key: corev1.LabelHostname, Operator: corev1.NodeSelectorOpIn, Values: []string{n.Node},
				}}}},
			}},
		},
	}
	created, err := n.Clientset.CoreV1().PersistentVolumes().Create(t.Context(), pv, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create PersistentVolume %s: %v", pv.Name, err)
	}
	n.mu.Lock()
	n.volumes = append(n.volumes, created.Name)
	n.mu.Unlock()
	return created
}
