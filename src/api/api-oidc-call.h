/* Single sign-on's calls to the provider, off the API's thread's critical path: a sign-in step parks while the loop's fetcher asks. */
#ifndef JITGATE_API_OIDC_CALL_H
#define JITGATE_API_OIDC_CALL_H

#include "api/api-oidc-internal.h"
#include "http/http-fetch.h"

/*
 * A sign-in step (start, callback, device start, device poll) that must ask
 * the provider starts the call on the loop's fetcher (http-fetch.h) and is
 * parked (http_response.park, with the step's key): the API serves everything
 * else meanwhile. When the call ends (answer, error or OIDC_HTTP_TIMEOUT_MS),
 * the step's request is handed to its handler again, which runs from the top
 * and now finds the answer here (discovery and keys go to their caches; the
 * token endpoint's answer stays until the step ends). What a step took before
 * it waited (a portal sign-in's state) is kept here, as a first run consumed it.
 */

/*
 * Sign-in steps waiting for the provider at once, on this server: beyond, a step is answered 503
 * ProviderBusy with Retry-After (a slow or hostile provider cannot gather connections without bound).
 * Below OIDC_STEPS_PER_S, so a second's budget of steps can meet it.
 */
#define OIDC_CALLS_MAX		16
#define OIDC_BUSY_RETRY_S	1	/* Retry-After of that 503 */
#define OIDC_PARK_SLACK_MS	1000	/* a parked step is handed back this long after its call's own timeout at the latest */

/* The provider's calls a step may make, one of each kind at a time. */
enum oidc_call_kind {
	OIDC_CALL_DISCOVERY,
	OIDC_CALL_JWKS,
	OIDC_CALL_TOKEN,	/* POST to the token or device endpoint: kept until the step ends */
	OIDC_CALL_KINDS,
};

enum oidc_call_state { OIDC_CALL_NONE, OIDC_CALL_RUNNING, OIDC_CALL_DONE };

struct oidc_step;

/* One call of a step. */
struct oidc_call {
	struct oidc_step *step;
	enum oidc_call_state state;
	struct http_fetch t;
	char *form;			/* the POST's body: libcurl reads it while the call runs */
	int r;				/* DONE: 0 with status and text, or -EIO with err */
	long status;
	char *text;
	size_t len;
	struct core_error err;
};

/* A step's request between its runs. key == 0: free. */
struct oidc_step {
	struct api *api;
	uint64_t key;			/* its park key: wakes it */
	int64_t started_ms;		/* monotonic: a step never handed back is reclaimed (oidc_step_begin) */
	bool waits;			/* this run started a call: park */
	struct oidc_call calls[OIDC_CALL_KINDS];
	bool have_pending;		/* the callback's sign-in, taken on the first run */
	struct oidc_pending pending;
};

/* The table of steps, made at the first step (api_oidc->steps). */
struct oidc_steps {
	struct oidc_step v[OIDC_CALLS_MAX];
	uint64_t next_key;
};

/*
 * The step of this request: its own on a run after a park (req->unparked; a call still running at
 * req->park_expired ends as a timeout), else a free one. NULL with resp filled (503 ProviderBusy, or
 * a lost step) when there is none. Sets o->cur.
 */
struct oidc_step *oidc_step_begin(struct api *api, struct api_oidc *o, const struct http_request *req,
				  struct http_response *resp);
/* The run ended: park the request when it started a call (resp is then only the park), else free the step. */
void oidc_step_end(struct api_oidc *o, struct http_response *resp);
/* A kind's answer is here, not read yet (for discovery and keys: it replaces the cache). */
bool oidc_call_ready(const struct api_oidc *o, enum oidc_call_kind kind);
/* Forget a kind's answer once read (the next need asks the provider again). */
void oidc_call_forget(struct api_oidc *o, enum oidc_call_kind kind);

#endif
