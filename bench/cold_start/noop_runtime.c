/* The floor of a Lambda custom runtime's cold start: a static C program that
 * speaks the Runtime API (GET .../invocation/next, POST .../response "{}")
 * and does nothing else. bench/cold_start.mjs runs it beside Orderly's
 * bootstraps and aws-lambda-cpp. Not part of any product build. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

static int connect_to(const char *api) {
  char host[256];
  const char *colon = strrchr(api, ':');
  if (!colon || (size_t)(colon - api) >= sizeof host) return -1;
  memcpy(host, api, (size_t)(colon - api));
  host[colon - api] = 0;
  /* The Runtime API is on a numeric address (Lambda: 127.0.0.1:9001); no resolver. */
  struct sockaddr_in addr = {0};
  addr.sin_family = AF_INET;
  addr.sin_port = htons((unsigned short)atoi(colon + 1));
  if (inet_pton(AF_INET, strcmp(host, "localhost") == 0 ? "127.0.0.1" : host, &addr.sin_addr) != 1)
    return -1;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) return -1;
  return fd;
}

/* One request on a fresh connection; the response head and body land in buf. */
static int exchange(const char *api, const char *req, char *buf, size_t cap) {
  int fd = connect_to(api);
  if (fd < 0) return -1;
  size_t len = strlen(req), off = 0;
  while (off < len) {
    ssize_t n = write(fd, req + off, len - off);
    if (n <= 0) return close(fd), -1;
    off += (size_t)n;
  }
  size_t got = 0;
  for (;;) {
    ssize_t n = read(fd, buf + got, cap - 1 - got);
    if (n <= 0) break;
    got += (size_t)n;
    buf[got] = 0;
    char *end = strstr(buf, "\r\n\r\n");
    if (end) {
      char *cl = strcasestr(buf, "content-length:");
      size_t body = cl ? (size_t)strtoul(cl + 15, NULL, 10) : 0;
      if (got >= (size_t)(end + 4 - buf) + body) break;
    }
    if (got + 1 >= cap) break;
  }
  close(fd);
  return (int)got;
}

int main(void) {
  const char *api = getenv("AWS_LAMBDA_RUNTIME_API");
  if (!api) return 2;
  static char buf[1 << 20], req[512];
  for (;;) {
    snprintf(req, sizeof req,
             "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", api);
    if (exchange(api, req, buf, sizeof buf) <= 0) return 1;
    char *id = strcasestr(buf, "lambda-runtime-aws-request-id:");
    if (!id) return 1;
    id += 30;
    while (*id == ' ') ++id;
    char rid[128];
    size_t n = strcspn(id, "\r\n");
    if (n >= sizeof rid) return 1;
    memcpy(rid, id, n);
    rid[n] = 0;
    snprintf(req, sizeof req,
             "POST /2018-06-01/runtime/invocation/%s/response HTTP/1.1\r\nHost: %s\r\n"
             "Content-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}",
             rid, api);
    if (exchange(api, req, buf, sizeof buf) <= 0) return 1;
  }
}
