package webhook

import (
	"net/http"
	"strconv"

	"github.com/complycube-session/createsession/handler/api"
)

// What the webhook function counts, per request; the log adapter adds the
// function's name to every split (docs/operating.md).
const (
	MetricWebhooks          = "Webhooks"                 // one per request
	MetricPublishFailures   = "WebhookPublishFailures"   // 1 when the message could not be published (a 502)
	MetricSignatureFailures = "WebhookSignatureFailures" // 1 for a missing or wrong signature
	MetricPublished         = "WebhookEventsPublished"   // 1 for an event passed on
	MetricColdStarts        = "ColdStarts"
	MetricKeyReadFailures   = "KeyReadFailures"
	DimensionStatus         = "StatusCode"
)

// schema's members, in order: dimension StatusCode; metrics Webhooks,
// WebhookPublishFailures, WebhookSignatureFailures,
// WebhookEventsPublished, ColdStarts, KeyReadFailures.
var schema = api.NewMetricSchema(api.MetricSet{
	DimensionSets: [][]string{{}, {DimensionStatus}},
	Metrics: []api.MetricDef{
		{Name: MetricWebhooks, Unit: "Count"}, {Name: MetricPublishFailures, Unit: "Count"},
		{Name: MetricSignatureFailures, Unit: "Count"}, {Name: MetricPublished, Unit: "Count"},
		{Name: MetricColdStarts, Unit: "Count"}, {Name: MetricKeyReadFailures, Unit: "Count"},
	},
})

func metrics(o outcome, first bool) *api.Metrics {
	return &api.Metrics{Schema: schema, Dimensions: []string{strconv.Itoa(o.resp.Status)}, Values: []float64{
		1, api.Count(o.resp.Status == http.StatusBadGateway), api.Count(o.errType == typeInvalidSignature),
		api.Count(o.published), api.Count(first), api.Count(o.errType == api.TypeServiceUnavailable),
	}}
}
