package storage

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blockblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
)

// azurePending returns the blobs under the repository that have uncommitted
// blocks only: a backup killed during its Azure upload staged its blocks
// but never committed the block list. Azure lists them only when asked for
// uncommitted blobs, so they are the difference between the two listings.
// Azure itself discards uncommitted blocks after seven days.
func (r *Repo) azurePending(ctx context.Context, client *container.Client, grace time.Duration) ([]PendingUpload, error) {
	list := func(uncommitted bool) (map[string]*container.BlobItem, error) {
		out := map[string]*container.BlobItem{}
		pager := client.NewListBlobsFlatPager(&container.ListBlobsFlatOptions{
			Prefix: to.Ptr(r.prefix), Include: container.ListBlobsInclude{UncommittedBlobs: uncommitted},
		})
		for pager.More() {
			page, err := pager.NextPage(ctx)
			if err != nil {
				return nil, r.scrub.err(fmt.Errorf("list uncommitted blobs in %s: %w", r.display, err))
			}
			for _, b := range page.Segment.BlobItems {
				if b.Name != nil {
					out[*b.Name] = b
				}
			}
		}
		return out, nil
	}
	committed, err := list(false)
	if err != nil {
		return nil, err
	}
	all, err := list(true)
	if err != nil {
		return nil, err
	}
	var out []PendingUpload
	for name, b := range all {
		if committed[name] != nil {
			continue
		}
		key, under := strings.CutPrefix(name, r.prefix)
		t, id, _, ok := splitBackupKey(key)
		if !under || !ok {
			continue
		}
		p := PendingUpload{Key: key, Target: t, ID: id}
		if pr := b.Properties; pr != nil {
			switch {
			case pr.CreationTime != nil:
				p.Initiated = *pr.CreationTime
			case pr.LastModified != nil:
				p.Initiated = *pr.LastModified
			}
		}
		blocks, err := client.NewBlockBlobClient(name).GetBlockList(ctx, blockblob.BlockListTypeUncommitted, nil)
		if err != nil {
			return nil, r.scrub.err(fmt.Errorf("list the uncommitted blocks of %s: %w", key, err))
		}
		for _, bl := range blocks.BlockList.UncommittedBlocks {
			p.Parts++
			if bl.Size != nil {
				p.Size += *bl.Size
			}
		}
		p.Collectable = p.Initiated.Add(grace)
		out = append(out, p)
	}
	return out, nil
}

// azureAbort discards the uncommitted blocks of p's blob: committing an
// empty block list drops every uncommitted block, and the empty blob that
// commit creates is then deleted. The commit is conditional on no blob
// existing, so a backup that committed since it was listed is left alone.
func (r *Repo) azureAbort(ctx context.Context, client *container.Client, p PendingUpload) error {
	bb := client.NewBlockBlobClient(r.prefix + p.Key)
	onlyNew := &blockblob.CommitBlockListOptions{AccessConditions: &blob.AccessConditions{
		ModifiedAccessConditions: &blob.ModifiedAccessConditions{IfNoneMatch: to.Ptr(azcore.ETagAny)},
	}}
	_, err := bb.CommitBlockList(ctx, []string{}, onlyNew)
	if bloberror.HasCode(err, bloberror.BlobAlreadyExists, bloberror.ConditionNotMet) {
		return nil // committed since it was listed: a backup, or its orphan
	}
	if err != nil {
		return r.scrub.err(fmt.Errorf("discard the uncommitted blocks of %s: %w", p.Key, err))
	}
	if _, err := bb.Delete(ctx, nil); err != nil {
		return r.scrub.err(fmt.Errorf("delete the emptied blob %s: %w", p.Key, err))
	}
	return nil
}
