// The credentials of one thread (Linux). glibc's setuid(2), setgid(2) and
// setgroups(2) change every thread of the process; the system calls
// themselves change the calling thread only, and so do setfsuid(2) and
// setfsgid(2), which glibc declares in <sys/fsuid.h>, a header Swift's Glibc
// module leaves out.
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

// What `tern_thread_become` asks a thread to take, for its signal handler.
struct tern_thread_request {
    uid_t uid;
    gid_t gid;
    size_t group_count;
    gid_t groups[256];
    int answer_fd;
};

// The one request (a static in an inline function, so that it is emitted
// with its users: one copy in the one Swift file that calls
// `tern_thread_become`, TernServer's ServiceAccount.swift).
static inline struct tern_thread_request *tern_thread_request_slot(void) {
    static struct tern_thread_request request;
    return &request;
}

// Runs on the asked thread: its own setgroups, setresgid and setresuid (raw
// system calls, each for this thread only, all async-signal-safe), then the
// result (0 or an errno value) down the answer pipe.
static void tern_thread_become_handler(int signal_number) {
    (void)signal_number;
    int saved = errno;
    const struct tern_thread_request *request = tern_thread_request_slot();
    int result = 0;
    if (syscall(SYS_setgroups, request->group_count, request->groups) != 0
        || syscall(SYS_setresgid, request->gid, request->gid, request->gid) != 0
        || syscall(SYS_setresuid, request->uid, request->uid, request->uid) != 0) {
        result = errno;
    }
    ssize_t written = write(request->answer_fd, &result, sizeof result);
    (void)written;
    errno = saved;
}

// Makes thread `tid` of this process take `uid`, `gid` and `groups` as its
// real, effective and saved ids, by a signal (SIGRTMAX, its previous handling
// restored after) that it handles itself; waits at most `timeout_ms` for its
// answer. For a thread glibc's setuid(2) does not reach: libdispatch parks
// the main thread of a Swift program with an async main in sigsuspend(2)
// inside pthread_exit(3), where glibc counts it as exiting. Signals within a
// process need no privilege, so the caller may already have given up root.
// Returns 0, or an errno value (ETIMEDOUT: no answer; the start must then be
// abandoned, since the signal may still arrive).
static inline int tern_thread_become(pid_t tid, uid_t uid, gid_t gid, const gid_t *groups, size_t group_count,
                                     int timeout_ms) {
    struct tern_thread_request *request = tern_thread_request_slot();
    if (group_count > sizeof request->groups / sizeof(gid_t)) return EINVAL;
    int pipe_fds[2];
    if (pipe(pipe_fds) != 0) return errno;
    fcntl(pipe_fds[0], F_SETFD, FD_CLOEXEC);
    fcntl(pipe_fds[1], F_SETFD, FD_CLOEXEC);
    request->uid = uid;
    request->gid = gid;
    request->group_count = group_count;
    if (group_count > 0) memcpy(request->groups, groups, group_count * sizeof(gid_t));
    request->answer_fd = pipe_fds[1];

    struct sigaction action, previous;
    memset(&action, 0, sizeof action);
    action.sa_handler = tern_thread_become_handler;
    sigfillset(&action.sa_mask);
    action.sa_flags = SA_RESTART;
    int result = 0;
    if (sigaction(SIGRTMAX, &action, &previous) != 0) {
        result = errno;
    } else {
        if (syscall(SYS_tgkill, getpid(), tid, SIGRTMAX) != 0) {
            result = errno;
        } else {
            struct pollfd answer = { .fd = pipe_fds[0], .events = POLLIN, .revents = 0 };
            int ready;
            do {
                ready = poll(&answer, 1, timeout_ms);
            } while (ready < 0 && errno == EINTR);
            if (ready == 0) {
                result = ETIMEDOUT;
            } else if (ready < 0) {
                result = errno;
            } else if (read(pipe_fds[0], &result, sizeof result) != (ssize_t)sizeof result) {
                result = EIO;
            }
        }
        if (result != ETIMEDOUT) sigaction(SIGRTMAX, &previous, NULL);
    }
    close(pipe_fds[0]);
    if (result != ETIMEDOUT) close(pipe_fds[1]);
    return result;
}
