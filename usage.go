package nubiq

import "time"

// Usage is a workspace's plan, its limits and its API usage in the current windows.
type Usage struct {
	Plan      Plan           `json:"plan"`
	Windows   UsageWindows   `json:"windows"`
	Workspace WorkspaceUsage `json:"workspace"`
	Keys      []KeyUsage     `json:"keys" jsonschema:"every API key of the workspace, by id, with its own usage"`
}

// UsageWindows are the starts of the current counting windows, in UTC.
type UsageWindows struct {
	Minute time.Time `json:"minute_start"`
	Day    time.Time `json:"day_start"`
	Month  time.Time `json:"month_start"`
}

// UsageCounts are request counts in the current minute, UTC day and UTC month.
type UsageCounts struct {
	Minute int `json:"minute"`
	Day    int `json:"day"`
	Month  int `json:"month"`
}

// WorkspaceUsage is the workspace total, which the plan's limits apply to.
type WorkspaceUsage struct {
	UsageCounts
	RemainingMinute int `json:"remaining_minute" jsonschema:"requests left this minute under the plan's per-minute limit"`
	RemainingDay    int `json:"remaining_day" jsonschema:"requests left today (UTC) under the plan's per-day limit"`
}

// KeyUsage is one API key's usage.
type KeyUsage struct {
	ID     int64  `json:"id"`
	Name   string `json:"name"`
	Prefix string `json:"prefix"`
	Status string `json:"status" jsonschema:"active, expired or revoked"`
	UsageCounts
}

// CurrentUsageWindows returns the starts of the minute, day and month windows that contain
// now, in UTC: the window_start values of the usage counters being written at now.
func CurrentUsageWindows(now time.Time) UsageWindows {
	now = now.UTC()
	y, m, d := now.Date()
	return UsageWindows{
		Minute: now.Truncate(time.Minute),
		Day:    time.Date(y, m, d, 0, 0, 0, 0, time.UTC),
		Month:  time.Date(y, m, 1, 0, 0, 0, 0, time.UTC),
	}
}
