/* spawnlat: whole-process latency of commands that read a file on standard input, the way a
 * delivery agent runs a filter (posix_spawn, stdin from the file, stdout and stderr to
 * /dev/null, wait). Used by scripts/bench.py; a C harness because Python's own process start-up
 * overhead (about 0.5 ms a run here) would be counted in every figure.
 *
 * usage: spawnlat REPEAT FILE -- CMD ARGS... [-- CMD ARGS...]
 * Runs each command twice as warm-up, then REPEAT rounds of all commands in turn (so a burst of
 * load hits them alike); prints one line per command: the median wall time in nanoseconds. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
extern char **environ;
static int cmp(const void *a, const void *b) { long x = *(const long *)a, y = *(const long *)b; return (x > y) - (x < y); }
static long run(char **argv, const char *file) {
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, file, O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pid_t pid;
    if (posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ) != 0) { perror(argv[0]); exit(2); }
    int st;
    waitpid(pid, &st, 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    posix_spawn_file_actions_destroy(&fa);
    return (t1.tv_sec - t0.tv_sec) * 1000000000L + (t1.tv_nsec - t0.tv_nsec);
}
int main(int argc, char **argv) {
    if (argc < 5) { fprintf(stderr, "usage: spawnlat REPEAT FILE -- CMD... [-- CMD...]\n"); return 2; }
    int repeat = atoi(argv[1]);
    const char *file = argv[2];
    char **cmds[64]; int n = 0;
    for (int i = 3; i < argc; i++) if (strcmp(argv[i], "--") == 0) { argv[i] = NULL; if (i + 1 < argc && n < 64) cmds[n++] = &argv[i + 1]; }
    long *t = calloc((size_t)repeat * n, sizeof(long));
    for (int w = 0; w < 2; w++) for (int c = 0; c < n; c++) run(cmds[c], file);
    for (int r = 0; r < repeat; r++) for (int c = 0; c < n; c++) t[c * repeat + r] = run(cmds[c], file);
    for (int c = 0; c < n; c++) { qsort(t + c * repeat, repeat, sizeof(long), cmp); printf("%ld\n", t[c * repeat + repeat / 2]); }
    return 0;
}
