// Package loader is the part of execve(2) that turns a file into a fresh
// address space: it loads x86-64 ELF executables (static, static-PIE, dynamic
// PIE and non-PIE ET_EXEC, with a PT_INTERP program interpreter such as
// musl's /lib/ld-musl-x86_64.so.1), follows "#!" scripts, and lays out the
// initial process stack (argc, argv, envp, auxv and the strings they point
// at).
//
// It mirrors Linux's fs/exec.c (do_execveat_common, exec_binprm,
// copy_strings), fs/binfmt_elf.c (load_elf_binary, load_elf_interp, elf_load,
// create_elf_tables) and fs/binfmt_script.c (load_script).
//
// The loader never touches memory directly: it drives a Memory (an empty
// address space, adapted from kvsentry/mm by the caller) and opens files
// through an Opener (path resolution belongs to the VFS). It holds no locks.
//
// Malformed input yields the errno Linux gives (ENOEXEC, EINVAL, ENOMEM,
// ELIBBAD, E2BIG, ELOOP ...), never a panic and never an allocation larger
// than a page driven by the file's contents.
package loader
