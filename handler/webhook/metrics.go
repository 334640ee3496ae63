package webhook

import (
	"log/slog"
	"net/http"
	"strconv"

	"github.com/complycube-session/createsession/handler"
)

// The webhook function's metrics, in the create-session function's
// namespace (see handler/emf.go), by the Function dimension.
const (
	MetricWebhooks          = "Webhooks"                 // one per request
	MetricPublishFailures   = "WebhookPublishFailures"   // 1 when the message could not be published (a 502)
	MetricSignatureFailures = "WebhookSignatureFailures" // 1 for a missing or wrong signature
	MetricPublished         = "WebhookEventsPublished"   // 1 for an event passed on
)

// webhookSchema's members, in order: dimensions Function and StatusCode;
// metrics Webhooks, WebhookPublishFailures, WebhookSignatureFailures,
// WebhookEventsPublished, ColdStarts, KeyReadFailures.
var webhookSchema = handler.NewEMFSchema(handler.MetricDirective{
	Namespace:  handler.MetricsNamespace,
	Dimensions: [][]string{{handler.DimensionFunction}, {handler.DimensionFunction, handler.DimensionStatus}},
	Metrics: []handler.MetricDef{
		{Name: MetricWebhooks, Unit: "Count"}, {Name: MetricPublishFailures, Unit: "Count"},
		{Name: MetricSignatureFailures, Unit: "Count"}, {Name: MetricPublished, Unit: "Count"},
		{Name: handler.MetricColdStarts, Unit: "Count"}, {Name: handler.MetricKeyReadFailures, Unit: "Count"},
	},
})

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func (rc *Receiver) metricAttrs(o outcome, first bool) []slog.Attr {
	return webhookSchema.Attrs(rc.now(), []string{rc.functionName, strconv.Itoa(o.resp.Status)}, []float64{
		1, b2f(o.resp.Status == http.StatusBadGateway), b2f(o.errType == typeInvalidSignature),
		b2f(o.published), b2f(first), b2f(o.errType == handler.TypeServiceUnavailable),
	})
}
