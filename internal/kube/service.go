package kube

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// ServiceSelector returns the label selector of Service ns/name: the pods
// behind it.
func (c *Client) ServiceSelector(ctx context.Context, ns, name string) (string, error) {
	svc, err := c.API.CoreV1().Services(ns).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return "", fmt.Errorf("%w: service %s/%s does not exist", ErrNoTarget, ns, name)
	}
	if err != nil {
		return "", fmt.Errorf("get service %s/%s: %w", ns, name, err)
	}
	if len(svc.Spec.Selector) == 0 {
		return "", fmt.Errorf("%w: service %s/%s has no selector, so it names no pods; give sentinel.kubernetes.selector instead", ErrNoTarget, ns, name)
	}
	return labels.SelectorFromSet(svc.Spec.Selector).String(), nil
}
