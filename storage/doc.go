// Package storage is rdbak's backup repository on any gocloud.dev/blob
// bucket (S3 and compatible, GCS, Azure Blob, local files): where each
// object lives (layout.go, the one place keys are derived), the manifest
// format, and listing, reading, committing and deleting backups.
//
// Invariants:
//   - A backup exists if and only if its manifest exists; data without a
//     manifest is an orphan, invisible to List, Get and "latest", and
//     collectable after a grace period (Orphans, gc).
//   - Commit writes the manifest only after the data object was committed;
//     Delete removes the manifest first, so an interrupted delete leaves an
//     orphan, never a manifest without its data.
//   - Storage URLs are shown without credentials (String, errors).
package storage
