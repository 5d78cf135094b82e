// Package api is the agents' JSON API under /api/v1: tickets, their messages and
// attachments, replies and notes, contacts and feedback, for the scripts, dashboards and
// bots around a helpdesk. Every request carries a bearer token (auth.go); an agent's
// token sees the tickets of the agent's team, an admin token every team's, and a ticket
// outside the token's scope is a 404, exactly like one that does not exist. Every error
// is an RFC 9457 problem+json document (problem.go). openapi.yaml describes every route
// and is served at /api/v1/openapi.json; a test holds the routes and the description to
// each other.
//
// The API reads through store and changes tickets only through ticket.Service, so a
// reply sent here reaches the customer exactly as an agent's emailed reply does. It
// uses no cookies, so the portal's cookie-based CSRF protection does not apply to it.
package api
