package testenv

import (
	"context"
	"net/url"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"gocloud.dev/blob"
	"gocloud.dev/blob/azureblob"
)

// Azurite's well-known development account; it is public and documented by
// Microsoft, so it is no secret.
const (
	AzuriteAccount   = "devstoreaccount1"
	AzuriteKey       = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
	azuriteContainer = "rdbak-test"
)

// AzureEmulatorURL returns the gocloud.dev v0.47 URL of a container on an
// Azure Blob emulator such as Azurite listening on host:port. The azblob URL
// opener (blob/azureblob) understands:
//
//   - protocol=http|https: the default is https; Azurite serves http.
//   - domain=<host[:port]>: replaces blob.core.windows.net. A domain that
//     starts with 127.0.0.1 or localhost, or localemu=true, selects the
//     emulator's path-style service URL <protocol>://<domain>/<account>
//     instead of <protocol>://<account>.<domain>.
//   - localemu=true: that path style for any other emulator host name.
//   - storage_account=<name>: the account in the service URL; defaults to
//     AZURE_STORAGE_ACCOUNT.
//   - cdn=true: service URL without the account part.
//
// Any other parameter is an error. Credentials come only from the
// environment: AZURE_STORAGE_ACCOUNT with AZURE_STORAGE_KEY (shared key, the
// form Env uses), else AZURE_STORAGE_SAS_TOKEN, else
// AZURE_STORAGE_CONNECTION_STRING, else azidentity's default chain. With a
// connection string that names BlobEndpoint the URL's endpoint parameters
// are ignored: azblob://<container> is enough. The same settings may also
// come from AZURE_STORAGE_DOMAIN, AZURE_STORAGE_PROTOCOL and
// AZURE_STORAGE_IS_LOCAL_EMULATOR.
func AzureEmulatorURL(container, hostport, account string) string {
	q := url.Values{}
	q.Set("protocol", "http")
	q.Set("domain", hostport)
	q.Set("localemu", "true")
	q.Set("storage_account", account)
	return (&url.URL{Scheme: "azblob", Host: container, RawQuery: q.Encode()}).String()
}

// AzuriteConnectionString returns the connection string for the Azurite
// blob service at endpoint, for tools that take one instead of a URL.
func AzuriteConnectionString(endpoint string) string {
	return "DefaultEndpointsProtocol=http;AccountName=" + AzuriteAccount + ";AccountKey=" + AzuriteKey +
		";BlobEndpoint=" + endpoint + "/" + AzuriteAccount + ";"
}

// StartAzurite starts Azurite's blob service with a fresh data dir on a free
// loopback port, creates one container, and stops the server when t ends.
// The binary is $RDBAK_AZURITE_BIN, deps.env's, or azurite-blob on PATH;
// Missing(t, "azurite", ...) when there is none.
func StartAzurite(t testing.TB) *ObjectStore {
	t.Helper()
	bin := findServer(t, "azurite", AzuriteBinEnv, "azurite-blob")
	srv := startServer(t, serverSpec{
		name: "azurite",
		command: func(port int, dir string) *exec.Cmd {
			// --skipApiVersionCheck: the Go SDK may send a newer
			// x-ms-version than the pinned Azurite knows.
			cmd := exec.Command(bin,
				"--blobHost", "127.0.0.1", "--blobPort", strconv.Itoa(port),
				"--location", dir, "--silent", "--skipApiVersionCheck", "--disableTelemetry")
			cmd.Env = append(cleanEnv(), "HOME="+dir)
			return cmd
		},
		ready:        httpAnyReady,
		startTimeout: 60 * time.Second,
	})
	svcURL := srv.Endpoint + "/" + AzuriteAccount
	client, err := azuriteClient(svcURL)
	if err != nil {
		t.Fatalf("azurite client: %v", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if _, err := client.Create(ctx, nil); err != nil {
		t.Fatalf("create azurite container %s: %v\nlog:\n%s", azuriteContainer, err, srv.Log())
	}
	return &ObjectStore{
		Name:     "azurite",
		URL:      AzureEmulatorURL(azuriteContainer, Addr(srv.Port), AzuriteAccount),
		Env:      []string{"AZURE_STORAGE_ACCOUNT=" + AzuriteAccount, "AZURE_STORAGE_KEY=" + AzuriteKey},
		Bucket:   azuriteContainer,
		Endpoint: srv.Endpoint,
		Shared:   true,
		open: func(ctx context.Context) (*blob.Bucket, error) {
			c, err := azuriteClient(svcURL)
			if err != nil {
				return nil, err
			}
			return azureblob.OpenBucket(ctx, c, nil)
		},
	}
}

// azuriteClient returns a client of the test container under the service
// URL, signed with the shared key of the development account.
func azuriteClient(svcURL string) (*container.Client, error) {
	cred, err := azblob.NewSharedKeyCredential(AzuriteAccount, AzuriteKey)
	if err != nil {
		return nil, err
	}
	return container.NewClientWithSharedKeyCredential(svcURL+"/"+azuriteContainer, cred, nil)
}
