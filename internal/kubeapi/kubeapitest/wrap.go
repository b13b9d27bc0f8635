// Package kubeapitest lets tests use client-go's fake clientset (its object
// tracker, reactors and recorded actions) where rdbak takes a kubeapi.API.
// Only tests import it, so the executable never links client-go's full
// clientset.
package kubeapitest

import (
	appsv1 "k8s.io/api/apps/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	batchv1 "k8s.io/api/batch/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/rdbak/rdbak/internal/kubeapi"
)

// Wrap returns cs as a kubeapi.API.
func Wrap(cs kubernetes.Interface) kubeapi.API { return api{cs} }

type api struct{ cs kubernetes.Interface }

func (a api) CoreV1() kubeapi.CoreV1                   { return core{a.cs} }
func (a api) AppsV1() kubeapi.AppsV1                   { return apps{a.cs} }
func (a api) BatchV1() kubeapi.BatchV1                 { return batch{a.cs} }
func (a api) CoordinationV1() kubeapi.CoordinationV1   { return coordination{a.cs} }
func (a api) AuthorizationV1() kubeapi.AuthorizationV1 { return authorization{a.cs} }

type core struct{ cs kubernetes.Interface }

func (c core) RESTClient() rest.Interface { return c.cs.CoreV1().RESTClient() }
func (c core) Pods(ns string) kubeapi.Pods {
	return c.cs.CoreV1().Pods(ns)
}
func (c core) Events(ns string) kubeapi.Objects[*corev1.Event, *corev1.EventList] {
	return c.cs.CoreV1().Events(ns)
}
func (c core) Secrets(ns string) kubeapi.Objects[*corev1.Secret, *corev1.SecretList] {
	return c.cs.CoreV1().Secrets(ns)
}
func (c core) ConfigMaps(ns string) kubeapi.Objects[*corev1.ConfigMap, *corev1.ConfigMapList] {
	return c.cs.CoreV1().ConfigMaps(ns)
}
func (c core) Services(ns string) kubeapi.Objects[*corev1.Service, *corev1.ServiceList] {
	return c.cs.CoreV1().Services(ns)
}
func (c core) PersistentVolumeClaims(ns string) kubeapi.Objects[*corev1.PersistentVolumeClaim, *corev1.PersistentVolumeClaimList] {
	return c.cs.CoreV1().PersistentVolumeClaims(ns)
}
func (c core) PersistentVolumes() kubeapi.Objects[*corev1.PersistentVolume, *corev1.PersistentVolumeList] {
	return c.cs.CoreV1().PersistentVolumes()
}
func (c core) Nodes() kubeapi.Objects[*corev1.Node, *corev1.NodeList] {
	return c.cs.CoreV1().Nodes()
}
func (c core) Namespaces() kubeapi.Objects[*corev1.Namespace, *corev1.NamespaceList] {
	return c.cs.CoreV1().Namespaces()
}

type apps struct{ cs kubernetes.Interface }

func (c apps) Deployments(ns string) kubeapi.Scalable[*appsv1.Deployment, *appsv1.DeploymentList] {
	return c.cs.AppsV1().Deployments(ns)
}
func (c apps) StatefulSets(ns string) kubeapi.Scalable[*appsv1.StatefulSet, *appsv1.StatefulSetList] {
	return c.cs.AppsV1().StatefulSets(ns)
}
func (c apps) ReplicaSets(ns string) kubeapi.Objects[*appsv1.ReplicaSet, *appsv1.ReplicaSetList] {
	return c.cs.AppsV1().ReplicaSets(ns)
}

type batch struct{ cs kubernetes.Interface }

func (c batch) Jobs(ns string) kubeapi.Objects[*batchv1.Job, *batchv1.JobList] {
	return c.cs.BatchV1().Jobs(ns)
}

type coordination struct{ cs kubernetes.Interface }

func (c coordination) Leases(ns string) kubeapi.Objects[*coordinationv1.Lease, *coordinationv1.LeaseList] {
	return c.cs.CoordinationV1().Leases(ns)
}

type authorization struct{ cs kubernetes.Interface }

func (c authorization) SelfSubjectAccessReviews() kubeapi.Creator[*authorizationv1.SelfSubjectAccessReview] {
	return c.cs.AuthorizationV1().SelfSubjectAccessReviews()
}
