// Package kubeapi is the part of the Kubernetes API that rdbak uses: typed
// clients for the kinds it reads and writes, with the method names of
// client-go's clientset.
//
// It exists for memory. client-go's generated clients all import
// k8s.io/client-go/kubernetes/scheme, whose init registers every built-in
// API group (about 50 group versions); that alone keeps about 13 MiB of the
// executable resident in every run, a quarter of the budget of a backup
// next to a small Redis. The clients here are client-go's own generic
// clients (gentype, which the generated ones wrap) over a scheme of only
// the groups below.
//
// Tests wrap client-go's fake clientset with kubeapitest.Wrap.
package kubeapi

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	batchv1 "k8s.io/api/batch/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/types"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/gentype"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/flowcontrol"
)

// API is a connection to one cluster's API server.
type API interface {
	CoreV1() CoreV1
	AppsV1() AppsV1
	BatchV1() BatchV1
	CoordinationV1() CoordinationV1
	AuthorizationV1() AuthorizationV1
}

// Objects reads and writes one kind of object in one namespace (or, for
// cluster-scoped kinds, the cluster). Its methods are those of client-go's
// typed clients.
type Objects[T, L runtime.Object] interface {
	Get(ctx context.Context, name string, opts metav1.GetOptions) (T, error)
	List(ctx context.Context, opts metav1.ListOptions) (L, error)
	Watch(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error)
	Create(ctx context.Context, obj T, opts metav1.CreateOptions) (T, error)
	Update(ctx context.Context, obj T, opts metav1.UpdateOptions) (T, error)
	Delete(ctx context.Context, name string, opts metav1.DeleteOptions) error
	Patch(ctx context.Context, name string, pt types.PatchType, data []byte, opts metav1.PatchOptions, subresources ...string) (T, error)
}

// Creator creates objects of a kind that is only ever created, such as a
// review.
type Creator[T runtime.Object] interface {
	Create(ctx context.Context, obj T, opts metav1.CreateOptions) (T, error)
}

// CoreV1 is the core API group.
type CoreV1 interface {
	// RESTClient reaches subresources such as pods/exec.
	RESTClient() rest.Interface
	Pods(namespace string) Pods
	Events(namespace string) Objects[*corev1.Event, *corev1.EventList]
	Secrets(namespace string) Objects[*corev1.Secret, *corev1.SecretList]
	ConfigMaps(namespace string) Objects[*corev1.ConfigMap, *corev1.ConfigMapList]
	Services(namespace string) Objects[*corev1.Service, *corev1.ServiceList]
	PersistentVolumeClaims(namespace string) Objects[*corev1.PersistentVolumeClaim, *corev1.PersistentVolumeClaimList]
	PersistentVolumes() Objects[*corev1.PersistentVolume, *corev1.PersistentVolumeList]
	Nodes() Objects[*corev1.Node, *corev1.NodeList]
	Namespaces() Objects[*corev1.Namespace, *corev1.NamespaceList]
}

// Pods adds the pods' log to Objects.
type Pods interface {
	Objects[*corev1.Pod, *corev1.PodList]
	GetLogs(name string, opts *corev1.PodLogOptions) *rest.Request
}

// Scalable adds the scale subresource to Objects.
type Scalable[T, L runtime.Object] interface {
	Objects[T, L]
	UpdateScale(ctx context.Context, name string, scale *autoscalingv1.Scale, opts metav1.UpdateOptions) (*autoscalingv1.Scale, error)
}

// AppsV1 is the apps/v1 API group.
type AppsV1 interface {
	Deployments(namespace string) Scalable[*appsv1.Deployment, *appsv1.DeploymentList]
	StatefulSets(namespace string) Scalable[*appsv1.StatefulSet, *appsv1.StatefulSetList]
	ReplicaSets(namespace string) Objects[*appsv1.ReplicaSet, *appsv1.ReplicaSetList]
}

// BatchV1 is the batch/v1 API group.
type BatchV1 interface {
	Jobs(namespace string) Objects[*batchv1.Job, *batchv1.JobList]
}

// CoordinationV1 is the coordination.k8s.io/v1 API group.
type CoordinationV1 interface {
	Leases(namespace string) Objects[*coordinationv1.Lease, *coordinationv1.LeaseList]
}

// AuthorizationV1 is the authorization.k8s.io/v1 API group.
type AuthorizationV1 interface {
	SelfSubjectAccessReviews() Creator[*authorizationv1.SelfSubjectAccessReview]
}

var (
	// Scheme holds the API groups of API and nothing else.
	Scheme = runtime.NewScheme()
	codecs = serializer.NewCodecFactory(Scheme)
	// ParameterCodec encodes options such as corev1.PodExecOptions into
	// query parameters.
	ParameterCodec = runtime.NewParameterCodec(Scheme)
)

func init() {
	metav1.AddToGroupVersion(Scheme, schema.GroupVersion{Version: "v1"})
	groups := runtime.SchemeBuilder{
		corev1.AddToScheme, appsv1.AddToScheme, batchv1.AddToScheme,
		coordinationv1.AddToScheme, authorizationv1.AddToScheme,
		autoscalingv1.AddToScheme, // the scale subresource's body
	}
	utilruntime.Must(groups.AddToScheme(Scheme))
}

// New returns the API at cfg, as kubernetes.NewForConfig would: one HTTP
// client and one client-side rate limiter shared by all groups.
func New(cfg *rest.Config) (API, error) {
	c := *cfg
	if c.UserAgent == "" {
		c.UserAgent = rest.DefaultKubernetesUserAgent()
	}
	if c.RateLimiter == nil && c.QPS > 0 {
		if c.Burst <= 0 {
			return nil, fmt.Errorf("burst is required to be greater than 0 when RateLimiter is not set and QPS is set to greater than 0")
		}
		c.RateLimiter = flowcontrol.NewTokenBucketRateLimiter(c.QPS, c.Burst)
	}
	hc, err := rest.HTTPClientFor(&c)
	if err != nil {
		return nil, err
	}
	group := func(gv schema.GroupVersion, path string) (*rest.RESTClient, error) {
		g := c
		g.GroupVersion = &gv
		g.APIPath = path
		g.NegotiatedSerializer = rest.CodecFactoryForGeneratedClient(Scheme, codecs).WithoutConversion()
		return rest.RESTClientForConfigAndClient(&g, hc)
	}
	var a api
	for _, g := range []struct {
		rc   **rest.RESTClient
		gv   schema.GroupVersion
		path string
	}{
		{&a.core, corev1.SchemeGroupVersion, "/api"},
		{&a.apps, appsv1.SchemeGroupVersion, "/apis"},
		{&a.batch, batchv1.SchemeGroupVersion, "/apis"},
		{&a.coordination, coordinationv1.SchemeGroupVersion, "/apis"},
		{&a.authorization, authorizationv1.SchemeGroupVersion, "/apis"},
	} {
		if *g.rc, err = group(g.gv, g.path); err != nil {
			return nil, fmt.Errorf("client for API group %s: %w", g.gv, err)
		}
	}
	return &a, nil
}

type api struct {
	core, apps, batch, coordination, authorization *rest.RESTClient
}

func (a *api) CoreV1() CoreV1                   { return core{a.core} }
func (a *api) AppsV1() AppsV1                   { return apps{a.apps} }
func (a *api) BatchV1() BatchV1                 { return batch{a.batch} }
func (a *api) CoordinationV1() CoordinationV1   { return coordination{a.coordination} }
func (a *api) AuthorizationV1() AuthorizationV1 { return authorization{a.authorization} }

// objects is the typed client of one kind: resource is its plural name,
// ns empty for cluster-scoped kinds.
func objects[T interface {
	runtime.Object
	*E
	metav1.Object
}, L interface {
	runtime.Object
	*EL
}, E, EL any](rc rest.Interface, resource, ns string) *gentype.ClientWithList[T, L] {
	return gentype.NewClientWithList[T, L](resource, rc, ParameterCodec, ns,
		func() T { return T(new(E)) }, func() L { return L(new(EL)) })
}

type core struct{ rc *rest.RESTClient }

func (c core) RESTClient() rest.Interface { return c.rc }
func (c core) Pods(ns string) Pods {
	return pods{objects[*corev1.Pod, *corev1.PodList](c.rc, "pods", ns)}
}
func (c core) Events(ns string) Objects[*corev1.Event, *corev1.EventList] {
	return objects[*corev1.Event, *corev1.EventList](c.rc, "events", ns)
}
func (c core) Secrets(ns string) Objects[*corev1.Secret, *corev1.SecretList] {
	return objects[*corev1.Secret, *corev1.SecretList](c.rc, "secrets", ns)
}
func (c core) ConfigMaps(ns string) Objects[*corev1.ConfigMap, *corev1.ConfigMapList] {
	return objects[*corev1.ConfigMap, *corev1.ConfigMapList](c.rc, "configmaps", ns)
}
func (c core) Services(ns string) Objects[*corev1.Service, *corev1.ServiceList] {
	return objects[*corev1.Service, *corev1.ServiceList](c.rc, "services", ns)
}
func (c core) PersistentVolumeClaims(ns string) Objects[*corev1.PersistentVolumeClaim, *corev1.PersistentVolumeClaimList] {
	return objects[*corev1.PersistentVolumeClaim, *corev1.PersistentVolumeClaimList](c.rc, "persistentvolumeclaims", ns)
}
func (c core) PersistentVolumes() Objects[*corev1.PersistentVolume, *corev1.PersistentVolumeList] {
	return objects[*corev1.PersistentVolume, *corev1.PersistentVolumeList](c.rc, "persistentvolumes", "")
}
func (c core) Nodes() Objects[*corev1.Node, *corev1.NodeList] {
	return objects[*corev1.Node, *corev1.NodeList](c.rc, "nodes", "")
}
func (c core) Namespaces() Objects[*corev1.Namespace, *corev1.NamespaceList] {
	return objects[*corev1.Namespace, *corev1.NamespaceList](c.rc, "namespaces", "")
}

type apps struct{ rc *rest.RESTClient }

func (c apps) Deployments(ns string) Scalable[*appsv1.Deployment, *appsv1.DeploymentList] {
	return scalable[*appsv1.Deployment, *appsv1.DeploymentList]{objects[*appsv1.Deployment, *appsv1.DeploymentList](c.rc, "deployments", ns), "deployments"}
}
func (c apps) StatefulSets(ns string) Scalable[*appsv1.StatefulSet, *appsv1.StatefulSetList] {
	return scalable[*appsv1.StatefulSet, *appsv1.StatefulSetList]{objects[*appsv1.StatefulSet, *appsv1.StatefulSetList](c.rc, "statefulsets", ns), "statefulsets"}
}
func (c apps) ReplicaSets(ns string) Objects[*appsv1.ReplicaSet, *appsv1.ReplicaSetList] {
	return objects[*appsv1.ReplicaSet, *appsv1.ReplicaSetList](c.rc, "replicasets", ns)
}

type pods struct {
	*gentype.ClientWithList[*corev1.Pod, *corev1.PodList]
}

func (p pods) GetLogs(name string, opts *corev1.PodLogOptions) *rest.Request {
	return p.GetClient().Get().Namespace(p.GetNamespace()).Name(name).Resource("pods").SubResource("log").VersionedParams(opts, ParameterCodec)
}

type scalable[T interface {
	runtime.Object
	metav1.Object
}, L runtime.Object] struct {
	*gentype.ClientWithList[T, L]
	resource string
}

func (s scalable[T, L]) UpdateScale(ctx context.Context, name string, scale *autoscalingv1.Scale, opts metav1.UpdateOptions) (*autoscalingv1.Scale, error) {
	result := &autoscalingv1.Scale{}
	err := s.GetClient().Put().Namespace(s.GetNamespace()).Resource(s.resource).Name(name).SubResource("scale").
		VersionedParams(&opts, ParameterCodec).Body(scale).Do(ctx).Into(result)
	return result, err
}

type batch struct{ rc *rest.RESTClient }

func (c batch) Jobs(ns string) Objects[*batchv1.Job, *batchv1.JobList] {
	return objects[*batchv1.Job, *batchv1.JobList](c.rc, "jobs", ns)
}

type coordination struct{ rc *rest.RESTClient }

func (c coordination) Leases(ns string) Objects[*coordinationv1.Lease, *coordinationv1.LeaseList] {
	return objects[*coordinationv1.Lease, *coordinationv1.LeaseList](c.rc, "leases", ns)
}

type authorization struct{ rc *rest.RESTClient }

func (c authorization) SelfSubjectAccessReviews() Creator[*authorizationv1.SelfSubjectAccessReview] {
	return gentype.NewClient[*authorizationv1.SelfSubjectAccessReview]("selfsubjectaccessreviews", c.rc, ParameterCodec, "",
		func() *authorizationv1.SelfSubjectAccessReview { return &authorizationv1.SelfSubjectAccessReview{} })
}
