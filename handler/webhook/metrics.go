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
	MetricUnreadable        = "WebhookUnreadable"        // 1 for a verified event that could not be read (answered 200)
	MetricDuplicates        = "WebhookDuplicates"        // 1 for an event some instance had published before
	MetricStateErrors       = "StateErrors"              // 1 when the shared state failed (the event was published anyway)
	MetricColdStarts        = "ColdStarts"
	MetricKeyReadFailures   = "KeyReadFailures"
	DimensionStatus         = "StatusCode"
)

// schema's members, in order: dimension StatusCode; metrics Webhooks,
// WebhookPublishFailures, WebhookSignatureFailures,
// WebhookEventsPublished, ColdStarts, KeyReadFailures, WebhookUnreadable,
// WebhookDuplicates, StateErrors.
var schema = api.NewMetricSchema(api.MetricSet{
	DimensionSets: [][]string{{}, {DimensionStatus}},
	Metrics: []api.MetricDef{
		{Name: MetricWebhooks, Unit: "Count"}, {Name: MetricPublishFailures, Unit: "Count"},
		{Name: MetricSignatureFailures, Unit: "Count"}, {Name: MetricPublished, Unit: "Count"},
		{Name: MetricColdStarts, Unit: "Count"}, {Name: MetricKeyReadFailures, Unit: "Count"},
		{Name: MetricUnreadable, Unit: "Count"}, {Name: MetricDuplicates, Unit: "Count"}, {Name: MetricStateErrors, Unit: "Count"},
	},
})

func metrics(o outcome, first bool) *api.Metrics {
	return &api.Metrics{Schema: schema, Dimensions: []string{strconv.Itoa(o.resp.Status)}, Values: []float64{
		1, api.Count(o.resp.Status == http.StatusBadGateway), api.Count(o.errType == typeInvalidSignature),
		api.Count(o.published && !o.unreadable), api.Count(first), api.Count(o.errType == api.TypeServiceUnavailable),
		api.Count(o.unreadable), api.Count(o.duplicate), api.Count(o.stateError != nil),
	}}
}
