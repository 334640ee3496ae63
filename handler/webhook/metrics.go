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

var webhookDirective = handler.MetricDirective{
	Namespace:  handler.MetricsNamespace,
	Dimensions: [][]string{{handler.DimensionFunction}, {handler.DimensionFunction, handler.DimensionStatus}},
	Metrics: []handler.MetricDef{
		{Name: MetricWebhooks, Unit: "Count"}, {Name: MetricPublishFailures, Unit: "Count"},
		{Name: MetricSignatureFailures, Unit: "Count"}, {Name: MetricPublished, Unit: "Count"},
		{Name: handler.MetricColdStarts, Unit: "Count"}, {Name: handler.MetricKeyReadFailures, Unit: "Count"},
	},
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func (rc *Receiver) metricAttrs(o outcome, first bool) []slog.Attr {
	return handler.EMFAttrs(rc.now(), []handler.MetricDirective{webhookDirective},
		map[string]string{handler.DimensionFunction: rc.functionName, handler.DimensionStatus: strconv.Itoa(o.resp.Status)},
		map[string]float64{
			MetricWebhooks:                1,
			MetricPublishFailures:         b2f(o.resp.Status == http.StatusBadGateway),
			MetricSignatureFailures:       b2f(o.errType == typeInvalidSignature),
			MetricPublished:               b2f(o.published),
			handler.MetricColdStarts:      b2f(first),
			handler.MetricKeyReadFailures: b2f(o.errType == handler.TypeServiceUnavailable),
		})
}
