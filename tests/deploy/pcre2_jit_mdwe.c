/*
 * Does PCRE2's JIT work under systemd's MemoryDenyWriteExecute=yes?
 *
 * systemd 252 implements MemoryDenyWriteExecute= with a seccomp filter that fails with
 * EPERM: mmap() asking for PROT_WRITE and PROT_EXEC together, mprotect() and
 * pkey_mprotect() adding PROT_EXEC, and shmat() with SHM_EXEC. This program installs
 * the same filter on itself (no systemd needed, so it runs in any test environment),
 * then JIT-compiles a pattern and matches with it. It prints one line per step and
 * exits 0; tests/deploy/test_deploy.py reads the lines. The unit files in systemd/
 * set MemoryDenyWriteExecute= from this result.
 *
 *   pcre2_jit_mdwe [--no-filter]   # "jit_available=1", "jit_compile=<rc>", "match=<rc>"
 *
 * --no-filter skips the seccomp filter: the control run, where the JIT must work.
 */
#define PCRE2_CODE_UNIT_WIDTH 8

#include <errno.h>
#include <pcre2.h>
#include <seccomp.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/shm.h>

/* The rules of systemd's seccomp_memory_deny_write_execute() on x86-64. */
static int deny_write_execute(void)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	int rc = -1;

	if (!ctx)
		return -1;
	if (seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(mmap), 1,
			     SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC | PROT_WRITE,
				     PROT_EXEC | PROT_WRITE)) < 0)
		goto fail;
	if (seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(mprotect), 1,
			     SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, PROT_EXEC)) < 0)
		goto fail;
	if (seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(pkey_mprotect), 1,
			     SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, PROT_EXEC)) < 0)
		goto fail;
	if (seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(shmat), 1,
			     SCMP_A2(SCMP_CMP_MASKED_EQ, SHM_EXEC, SHM_EXEC)) < 0)
		goto fail;
	rc = seccomp_load(ctx);
fail:
	seccomp_release(ctx);
	return rc;
}

int main(int argc, char **argv)
{
	pcre2_match_data *md = NULL;
	pcre2_code *re = NULL;
	PCRE2_SIZE erroff;
	uint32_t jit = 0;
	int errcode, rc = 1;

	pcre2_config(PCRE2_CONFIG_JIT, &jit);
	printf("jit_available=%u\n", jit);
	/* Before any JIT use: the allocator keeps chunks, so an earlier compile would hide the answer. */
	if (!(argc > 1 && strcmp(argv[1], "--no-filter") == 0) && deny_write_execute() < 0) {
		fprintf(stderr, "pcre2_jit_mdwe: cannot install the seccomp filter\n");
		return 1;
	}
	re = pcre2_compile((PCRE2_SPTR) "a+b", PCRE2_ZERO_TERMINATED, 0, &errcode, &erroff, NULL);
	if (!re)
		goto fail;
	printf("jit_compile=%d\n", pcre2_jit_compile(re, PCRE2_JIT_COMPLETE));
	md = pcre2_match_data_create_from_pattern(re, NULL);
	if (!md)
		goto fail;
	/* Without JIT code pcre2_match() falls back to the interpreter. */
	printf("match=%d\n", pcre2_match(re, (PCRE2_SPTR) "xaab", 4, 0, 0, md, NULL));
	rc = 0;
fail:
	pcre2_match_data_free(md);
	pcre2_code_free(re);
	return rc;
}
