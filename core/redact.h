/*
 * Secrets that must never be printed: values that a flow took from the
 * environment (${env:NAME}).  They are registered once, while the flow is
 * loaded, and every message that leaves the process through the log, a
 * validation problem or the run's error is passed through sp_redact,
 * which replaces each of them with "***".
 */
#ifndef SPATE_CORE_REDACT_H
#define SPATE_CORE_REDACT_H

/* values shorter than this are not secrets worth hiding ("1", "on") */
#define SP_REDACT_MIN_LEN 4

/* Remembers secret (copied) until the process ends.  Shorter ones and
 * repeats are ignored.  0, or -ENOMEM / -ENOSPC (more than 256). */
int sp_redact_add(const char *secret);

/* Replaces every registered secret in the string s with "***", in place
 * (s never grows: a secret is longer than the mask). */
void sp_redact(char *s);

/* Forgets every secret (tests). */
void sp_redact_reset(void);

#endif
