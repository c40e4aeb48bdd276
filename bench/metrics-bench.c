/* Benchmark: the /metrics page at its largest (every operation used, every refusal code slot taken), rendered N times. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api-internal.h"
#include "core/timeutil.h"

#define RENDERS 2000	/* pages rendered for the figure */

int
main(void)
{
	struct api_settings settings;
	struct api *api;
	int64_t t0, t1;
	size_t bytes = 0;
	int i, reuse;

	memset(&settings, 0, sizeof(settings));
	api = api_new(&settings);
	if (!api)
		return 1;
	/* the worst case the limits allow: every operation seen with every result, every code slot taken */
	for (i = 0; i < API_OP__END * API_RESULT__END * 3; i++) {
		struct http_response resp = { .status = i % 3 == 0 ? 200 : i % 3 == 1 ? 403 : 500 };

		snprintf(resp.error_code, sizeof(resp.error_code), "BenchCode%d", i % (API_METRICS_CODES_MAX + 8));
		api_metrics_request(api, i % API_OP__END, &resp, (int64_t)i * 1000);
	}
	for (reuse = 0; reuse < 2; reuse++) {
		t0 = time_mono_ns();
		for (i = 0; i < RENDERS; i++) {
			struct http_response resp = { 0 };

			if (!reuse)
				api_metrics_free(&api->metrics);	/* no page kept: render it */
			if (api_metrics_render(api, &resp) < 0)
				return 1;
			bytes = resp.body_len;
			free(resp.body);
		}
		t1 = time_mono_ns();
		printf("metrics-bench: the largest page (%zu bytes), %s: %.1f us per scrape, %.0f scrapes/s on one core\n",
		       bytes, reuse ? "served again within API_METRICS_PAGE_REUSE_MS" : "rendered",
		       (double)(t1 - t0) / RENDERS / 1000.0, RENDERS * 1e9 / (double)(t1 - t0));
	}
	api_free(api);
	return 0;
}
