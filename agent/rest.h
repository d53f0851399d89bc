/* The device REST API of PROTOCOL 3.4 (base /smartlic-service), or
 * RESTCONF (restconf.h), over HTTPS with HTTP Basic authentication, served
 * with libmicrohttpd. */
#ifndef RUM_AGENT_REST_H
#define RUM_AGENT_REST_H

struct rum_agent_rest_opts {
	const char *listen; /* "ADDR:PORT" (IPv4); port 0 picks one, printed on start */
	const char *user;
	const char *password_file; /* first line is the password */
	const char *cert, *key;    /* PEM files */
	int restconf;              /* serve RESTCONF instead of the device REST API */
};

/* Serves until SIGINT/SIGTERM. Prints "listening on https://ADDR:PORT" on
 * stdout once ready. */
int rum_agent_rest_serve(const char *dir, const struct rum_agent_rest_opts *o);

#endif
