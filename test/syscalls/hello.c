//go:build ignore

/* hello.c: argv, envp and the auxiliary vector (getauxval(3)) as the kernel's
 * create_elf_tables() (fs/binfmt_elf.c) lays them out. Built static and dynamic. */
#include <stdint.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>
#include "kvtest.h"

extern char **environ;

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("argc=%d\n", argc);
	for (int i = 0; i < argc; i++)
		printf("argv[%d]=\"%s\"\n", i, argv[i]);
	printf("argv[argc]=%s\n", argv[argc] == NULL ? "NULL" : "non-NULL");
	for (char **e = environ; *e; e++)
		printf("env: %s\n", *e);

	printf("AT_PAGESZ=%lu\n", getauxval(AT_PAGESZ));
	printf("sysconf(_SC_PAGESIZE)=%ld\n", sysconf(_SC_PAGESIZE));
	const unsigned char *rnd = (const unsigned char *)getauxval(AT_RANDOM);
	printf("AT_RANDOM non-null=%d\n", rnd != NULL);
	if (rnd) {
		int nonzero = 0;
		for (int i = 0; i < 16; i++)
			nonzero |= rnd[i];
		printf("AT_RANDOM 16 bytes readable, not all zero=%d\n", nonzero != 0);
	}
	const char *execfn = (const char *)getauxval(AT_EXECFN);
	printf("AT_EXECFN=\"%s\"\n", execfn ? execfn : "(null)");
	printf("AT_PHENT=%lu\n", getauxval(AT_PHENT));
	printf("AT_PHDR non-null=%d\n", getauxval(AT_PHDR) != 0);
	printf("AT_PHNUM>0=%d\n", getauxval(AT_PHNUM) > 0);
	printf("AT_ENTRY non-null=%d\n", getauxval(AT_ENTRY) != 0);
	printf("AT_UID=%lu AT_EUID=%lu AT_GID=%lu AT_EGID=%lu\n",
	       getauxval(AT_UID), getauxval(AT_EUID), getauxval(AT_GID), getauxval(AT_EGID));
	printf("AT_SECURE=%lu\n", getauxval(AT_SECURE));
	printf("AT_CLKTCK=%lu\n", getauxval(AT_CLKTCK));
#ifdef DYNAMIC
	printf("AT_BASE non-zero=%d\n", getauxval(AT_BASE) != 0);
#else
	printf("AT_BASE=%lu\n", getauxval(AT_BASE));
#endif
	/* The stack pointer at entry is 16-byte aligned, so is argv's block. */
	printf("argv 8-byte aligned=%d\n", ((uintptr_t)argv & 7) == 0);
	/* argv strings, then envp strings, follow each other on the stack. */
	printf("argv[0] below environ[0]=%d\n", environ[0] == NULL || argv[0] < environ[0]);
	return argc == 1 ? 0 : 3;
}
