package ssatest

import "sigs.k8s.io/controller-runtime/pkg/client"

// Cluster is a [github.com/ssakit/ssakit/pkg/reconcile.Cluster] over one client,
// usually a fake client from NewClientBuilder: GetClient and GetAPIReader both return Client,
// since a fake client has no cache to bypass. With a [LaggingClient] as Client, GetAPIReader
// returns the client it lags: the cache lags, the API reader does not, as in a manager. It lets
// reconcile.New, and constructors built on it, run in a unit test without a manager.
type Cluster struct {
	// Client serves reads, writes and the uncached reads of the API reader.
	Client client.Client
}

// GetClient returns c.Client.
func (c Cluster) GetClient() client.Client { return c.Client }

// GetAPIReader returns c.Client, or, when it is a *LaggingClient, the client it lags.
func (c Cluster) GetAPIReader() client.Reader {
	if lagging, ok := c.Client.(*LaggingClient); ok {
		return lagging.Client
	}
	return c.Client
}
