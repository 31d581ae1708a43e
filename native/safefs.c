// Path-safe file operations for work inside a container's root from the (root) daemon: every
// lookup is fd-relative and done by the kernel with openat2(RESOLVE_IN_ROOT / RESOLVE_BENEATH), so
// a container swapping links or directories meanwhile can never send the daemon to a host file.
// Thin synchronous wrappers; errors become Node-style errors with .code, .errno and .syscall.
// Also listenInNetns and socketInNetns (asynchronous): the embedded DNS's sockets made inside a
// container's netns (its listeners, and the sockets its upstream queries leave from); and
// tryLockExclusive (flock) for the daemon's pidfile and root locks.
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <netinet/in.h>
#include <node_api.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#ifndef SYS_fchmodat2
#define SYS_fchmodat2 452
#endif

#define MAX_ARGS 8
#define NAME_MAX_BYTES 4096

static napi_value errno_error(napi_env env, int err, const char *syscall, const char *path) {
  const char *name = strerrorname_np(err);
  char msg[NAME_MAX_BYTES + 256];
  if (path)
    snprintf(msg, sizeof msg, "%s: %s, %s '%s'", name ? name : "EUNKNOWN", strerror(err), syscall, path);
  else
    snprintf(msg, sizeof msg, "%s: %s, %s", name ? name : "EUNKNOWN", strerror(err), syscall);
  napi_value code, message, error, errnoVal, sys;
  napi_create_string_utf8(env, name ? name : "EUNKNOWN", NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &message);
  napi_create_error(env, code, message, &error);
  napi_create_int32(env, -err, &errnoVal);
  napi_set_named_property(env, error, "errno", errnoVal);
  napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &sys);
  napi_set_named_property(env, error, "syscall", sys);
  if (path) {
    napi_value p;
    napi_create_string_utf8(env, path, NAPI_AUTO_LENGTH, &p);
    napi_set_named_property(env, error, "path", p);
  }
  return error;
}

static napi_value throw_errno(napi_env env, int err, const char *syscall, const char *path) {
  napi_throw(env, errno_error(env, err, syscall, path));
  return NULL;
}

static int get_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv) {
  size_t argc = MAX_ARGS;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < want) {
    napi_throw_type_error(env, NULL, "missing arguments");
    return 0;
  }
  return 1;
}

static int get_i32(napi_env env, napi_value v, int32_t *out) {
  if (napi_get_value_int32(env, v, out) != napi_ok) {
    napi_throw_type_error(env, NULL, "expected a number");
    return 0;
  }
  return 1;
}

static int get_i64(napi_env env, napi_value v, int64_t *out) {
  if (napi_get_value_int64(env, v, out) != napi_ok) {
    napi_throw_type_error(env, NULL, "expected a number");
    return 0;
  }
  return 1;
}

static int get_bool(napi_env env, napi_value v, int *out) {
  bool b = false;
  if (napi_get_value_bool(env, v, &b) != napi_ok) {
    napi_throw_type_error(env, NULL, "expected a boolean");
    return 0;
  }
  *out = b;
  return 1;
}

// A path or name: a string (UTF-8) or a Buffer (raw bytes, so non-UTF-8 names survive). No NULs.
static int get_path(napi_env env, napi_value v, char *buf, size_t cap) {
  bool isBuf = false;
  napi_is_buffer(env, v, &isBuf);
  if (isBuf) {
    void *data;
    size_t len;
    napi_get_buffer_info(env, v, &data, &len);
    if (len >= cap || memchr(data, 0, len)) {
      napi_throw_type_error(env, NULL, "invalid path");
      return 0;
    }
    memcpy(buf, data, len);
    buf[len] = 0;
    return 1;
  }
  size_t len = 0;
  if (napi_get_value_string_utf8(env, v, buf, cap, &len) != napi_ok) {
    napi_throw_type_error(env, NULL, "expected a string or Buffer path");
    return 0;
  }
  if (len >= cap - 1 || strlen(buf) != len) {
    napi_throw_type_error(env, NULL, "invalid path");
    return 0;
  }
  return 1;
}

static napi_value num(napi_env env, double d) {
  napi_value v;
  napi_create_double(env, d, &v);
  return v;
}

static napi_value undef(napi_env env) {
  napi_value v;
  napi_get_undefined(env, &v);
  return v;
}

// openRoot(path): an O_PATH|O_DIRECTORY fd of a root to resolve in.
static napi_value OpenRoot(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS];
  char p[NAME_MAX_BYTES];
  if (!get_args(env, info, 1, argv) || !get_path(env, argv[0], p, sizeof p)) return NULL;
  int fd = open(p, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return throw_errno(env, errno, "open", p);
  return num(env, fd);
}

static napi_value do_openat2(napi_env env, napi_callback_info info, uint64_t resolve) {
  napi_value argv[MAX_ARGS];
  char p[NAME_MAX_BYTES];
  int32_t dirfd, flags, mode = 0;
  size_t argc = MAX_ARGS;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 3) {
    napi_throw_type_error(env, NULL, "missing arguments");
    return NULL;
  }
  if (!get_i32(env, argv[0], &dirfd) || !get_path(env, argv[1], p, sizeof p) || !get_i32(env, argv[2], &flags)) return NULL;
  napi_valuetype t = napi_undefined;
  if (argc > 3) napi_typeof(env, argv[3], &t);
  if (t == napi_number && !get_i32(env, argv[3], &mode)) return NULL;
  struct open_how how;
  memset(&how, 0, sizeof how);
  how.flags = (uint64_t)(uint32_t)flags | O_CLOEXEC;
  // The kernel refuses a mode without O_CREAT/O_TMPFILE.
  how.mode = (flags & (O_CREAT | __O_TMPFILE)) ? (uint64_t)(mode & 07777) : 0;
  how.resolve = resolve | RESOLVE_NO_MAGICLINKS;
  const char *rel = p[0] ? p : ".";
  long fd;
  do {
    fd = syscall(SYS_openat2, dirfd, rel, &how, sizeof how);
  } while (fd < 0 && errno == EAGAIN);  // a rename elsewhere raced the lookup: retry
  if (fd < 0) return throw_errno(env, errno, "openat2", p);
  return num(env, (double)fd);
}

static napi_value OpenInRoot(napi_env env, napi_callback_info info) { return do_openat2(env, info, RESOLVE_IN_ROOT); }
static napi_value OpenBeneath(napi_env env, napi_callback_info info) { return do_openat2(env, info, RESOLVE_BENEATH); }

// Names passed to the *at calls below must be single components: a '/' would let the kernel walk
// (and follow links) outside the checked fd.
static int check_name(napi_env env, const char *name) {
  if (name[0] == 0 || strchr(name, '/') || strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
    napi_value code, msg, err;
    napi_create_string_utf8(env, "EINVAL", NAPI_AUTO_LENGTH, &code);
    napi_create_string_utf8(env, "EINVAL: not a single path component", NAPI_AUTO_LENGTH, &msg);
    napi_create_error(env, code, msg, &err);
    napi_value e;
    napi_create_int32(env, -EINVAL, &e);
    napi_set_named_property(env, err, "errno", e);
    napi_throw(env, err);
    return 0;
  }
  return 1;
}

static napi_value MkdirAt(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS];
  char n[NAME_MAX_BYTES];
  int32_t fd, mode;
  if (!get_args(env, info, 3, argv) || !get_i32(env, argv[0], &fd) || !get_path(env, argv[1], n, sizeof n) || !get_i32(env, argv[2], &mode)) return NULL;
  if (!check_name(env, n)) return NULL;
  if (mkdirat(fd, n, (mode_t)mode) < 0) return throw_errno(env, errno, "mkdirat", n);
  return undef(env);
}

static napi_value UnlinkAt(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS];
  char n[NAME_MAX_BYTES];
  int32_t fd;
  int isDir;
  if (!get_args(env, info, 3, argv) || !get_i32(env, argv[0], &fd) || !get_path(env, argv[1], n, sizeof n) || !get_bool(env, argv[2], &isDir)) return NULL;
  if (!check_name(env, n)) return NULL;
  if (unlinkat(fd, n, isDir ? AT_REMOVEDIR : 0) < 0) return throw_errno(env, errno, "unlinkat", n);
  return undef(env);
}

static napi_value SymlinkAt(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS];
  char target[NAME_MAX_BYTES], n[NAME_MAX_BYTES];
  int32_t fd;
  if (!get_args(env, info, 3, argv) || !get_path(env, argv[0], target, sizeof target) || !get_i32(env, argv[1], &fd) || !get_path(env, argv[2], n, sizeof n)) return NULL;
  if (!check_name(env, n)) return NULL;
  if (symlinkat(target, fd, n) < 0) return throw_errno(env, errno, "symlinkat", n);
  return undef(env);
}

// linkAt(oldDirFd, oldName, newDirFd, newName): oldName "" links the file oldDirFd itself is open
// on (AT_EMPTY_PATH), so a hard link target can be resolved in root first and linked by fd.
static napi_value LinkAt(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS];
  char o[NAME_MAX_BYTES], n[NAME_MAX_BYTES];
  int32_t ofd, nfd;
  if (!get_args(env, info, 4, argv) || !get_i32(env, argv[0], &ofd) || !get_path(env, argv[1], o, sizeof o) || !get_i32(env, argv[2], &nfd) || !get_path(env, argv[3], n, sizeof n)) return NULL;
  if (!check_name(env, n)) return NULL;
  if (o[0] != 0 && !check_name(env, o)) return NULL;
  if (linkat(ofd, o, nfd, n, o[0] == 0 ? AT_EMPTY_PATH : 0) < 0) return throw_errno(env, errno, "linkat", n);
  return undef(env);
}

static napi_value MknodAt(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS];
  char n[NAME_MAX_BYTES];
  int32_t fd, mode;
  int64_t dev;
  if (!get_args(env, info, 4, argv) || !get_i32(env, argv[0], &fd) || !get_path(env, argv[1], n, sizeof n) || !get_i32(env, argv[2], &mode) || !get_i64(env, argv[3], &dev)) return NULL;
  if (!check_name(env, n)) return NULL;
  if (mknodat(fd, n, (mode_t)mode, (dev_t)dev) < 0) return throw_errno(env, errno, "mknodat", n);
  return undef(env);
}

static napi_value RenameAt(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS];
  char o[NAME_MAX_BYTES], n[NAME_MAX_BYTES];
  int32_t ofd, nfd;
  if (!get_args(env, info, 4, argv) || !get_i32(env, argv[0], &ofd) || !get_path(env, argv[1], o, sizeof o) || !get_i32(env, argv[2], &nfd) || !get_path(env, argv[3], n, sizeof n)) return NULL;
  if (!check_name(env, o) || !check_name(env, n)) return NULL;
  if (renameat(ofd, o, nfd, n) < 0) return throw_errno(env, errno, "renameat", n);
  return undef(env);
}

// readlinkAt(dirFd, name): the link's bytes as a Buffer; name "" reads the O_PATH fd's own link.
static napi_value ReadlinkAt(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS];
  char n[NAME_MAX_BYTES], out[NAME_MAX_BYTES];
  int32_t fd;
  if (!get_args(env, info, 2, argv) || !get_i32(env, argv[0], &fd) || !get_path(env, argv[1], n, sizeof n)) return NULL;
  if (n[0] != 0 && !check_name(env, n)) return NULL;
  ssize_t len = readlinkat(fd, n, out, sizeof out);
  if (len < 0) return throw_errno(env, errno, "readlinkat", n);
  napi_value buf;
  napi_create_buffer_copy(env, (size_t)len, out, NULL, &buf);
  return buf;
}

static void set_num(napi_env env, napi_value obj, const char *key, double v) {
  napi_set_named_property(env, obj, key, num(env, v));
}

static void set_big(napi_env env, napi_value obj, const char *key, int64_t v) {
  napi_value b;
  napi_create_bigint_int64(env, v, &b);
  napi_set_named_property(env, obj, key, b);
}

// fstatAt(dirFd, name, noFollow): name "" stats dirFd itself (AT_EMPTY_PATH).
static napi_value FstatAt(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS];
  char n[NAME_MAX_BYTES];
  int32_t fd;
  int noFollow;
  if (!get_args(env, info, 3, argv) || !get_i32(env, argv[0], &fd) || !get_path(env, argv[1], n, sizeof n) || !get_bool(env, argv[2], &noFollow)) return NULL;
  if (n[0] != 0 && !check_name(env, n)) return NULL;
  struct stat st;
  int flags = (noFollow ? AT_SYMLINK_NOFOLLOW : 0) | (n[0] == 0 ? AT_EMPTY_PATH : 0);
  if (fstatat(fd, n, &st, flags) < 0) return throw_errno(env, errno, "fstatat", n);
  napi_value o;
  napi_create_object(env, &o);
  set_num(env, o, "dev", (double)st.st_dev);
  set_num(env, o, "ino", (double)st.st_ino);
  set_num(env, o, "mode", st.st_mode);
  set_num(env, o, "nlink", (double)st.st_nlink);
  set_num(env, o, "uid", st.st_uid);
  set_num(env, o, "gid", st.st_gid);
  set_num(env, o, "rdev", (double)st.st_rdev);
  set_num(env, o, "rdevMajor", major(st.st_rdev));
  set_num(env, o, "rdevMinor", minor(st.st_rdev));
  set_num(env, o, "size", (double)st.st_size);
  set_big(env, o, "atimeNs", (int64_t)st.st_atim.tv_sec * 1000000000LL + st.st_atim.tv_nsec);
  set_big(env, o, "mtimeNs", (int64_t)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec);
  set_big(env, o, "ctimeNs", (int64_t)st.st_ctim.tv_sec * 1000000000LL + st.st_ctim.tv_nsec);
  return o;
}

// fchownAt(dirFd, name, uid, gid, noFollow); name "" changes dirFd's own file.
static napi_value FchownAt(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS];
  char n[NAME_MAX_BYTES];
  int32_t fd, uid, gid;
  int noFollow;
  if (!get_args(env, info, 5, argv) || !get_i32(env, argv[0], &fd) || !get_path(env, argv[1], n, sizeof n) || !get_i32(env, argv[2], &uid) || !get_i32(env, argv[3], &gid) || !get_bool(env, argv[4], &noFollow)) return NULL;
  if (n[0] != 0 && !check_name(env, n)) return NULL;
  int flags = (noFollow ? AT_SYMLINK_NOFOLLOW : 0) | (n[0] == 0 ? AT_EMPTY_PATH : 0);
  if (fchownat(fd, n, (uid_t)uid, (gid_t)gid, flags) < 0) return throw_errno(env, errno, "fchownat", n);
  return undef(env);
}

// fchmodAt(dirFd, name, mode, noFollow): fchmodat2 (Linux 6.6) honours AT_SYMLINK_NOFOLLOW and
// AT_EMPTY_PATH; older kernels get fchmodat after a NOFOLLOW check that the name is no symlink,
// or, for name "", a chmod through the fd's /proc/self/fd entry.
static napi_value FchmodAt(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS];
  char n[NAME_MAX_BYTES];
  int32_t fd, mode;
  int noFollow;
  if (!get_args(env, info, 4, argv) || !get_i32(env, argv[0], &fd) || !get_path(env, argv[1], n, sizeof n) || !get_i32(env, argv[2], &mode) || !get_bool(env, argv[3], &noFollow)) return NULL;
  if (n[0] != 0 && !check_name(env, n)) return NULL;
  int flags = (noFollow ? AT_SYMLINK_NOFOLLOW : 0) | (n[0] == 0 ? AT_EMPTY_PATH : 0);
  if (syscall(SYS_fchmodat2, fd, n, (mode_t)mode, flags) == 0) return undef(env);
  if (errno != ENOSYS) return throw_errno(env, errno, "fchmodat2", n);
  if (n[0] == 0) {
    char proc[64];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
    if (chmod(proc, (mode_t)mode) < 0) return throw_errno(env, errno, "chmod", n);
    return undef(env);
  }
  if (noFollow) {
    struct stat st;
    if (fstatat(fd, n, &st, AT_SYMLINK_NOFOLLOW) < 0) return throw_errno(env, errno, "fstatat", n);
    if (S_ISLNK(st.st_mode)) return throw_errno(env, EOPNOTSUPP, "fchmodat", n);
  }
  if (fchmodat(fd, n, (mode_t)mode, 0) < 0) return throw_errno(env, errno, "fchmodat", n);
  return undef(env);
}

// utimensAt(dirFd, name, atimeSec, atimeNsec, mtimeSec, mtimeNsec, noFollow); name "" sets dirFd's
// own file (works on O_PATH fds too).
static napi_value UtimensAt(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS];
  char n[NAME_MAX_BYTES];
  int32_t fd;
  int64_t as, an, ms, mn;
  int noFollow;
  if (!get_args(env, info, 7, argv) || !get_i32(env, argv[0], &fd) || !get_path(env, argv[1], n, sizeof n) || !get_i64(env, argv[2], &as) || !get_i64(env, argv[3], &an) || !get_i64(env, argv[4], &ms) || !get_i64(env, argv[5], &mn) || !get_bool(env, argv[6], &noFollow)) return NULL;
  if (n[0] != 0 && !check_name(env, n)) return NULL;
  struct timespec ts[2] = {{(time_t)as, (long)an}, {(time_t)ms, (long)mn}};
  int flags = (noFollow ? AT_SYMLINK_NOFOLLOW : 0) | (n[0] == 0 ? AT_EMPTY_PATH : 0);
  if (utimensat(fd, n, ts, flags) < 0) return throw_errno(env, errno, "utimensat", n);
  return undef(env);
}

static napi_value Fchown(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS];
  int32_t fd, uid, gid;
  if (!get_args(env, info, 3, argv) || !get_i32(env, argv[0], &fd) || !get_i32(env, argv[1], &uid) || !get_i32(env, argv[2], &gid)) return NULL;
  if (fchown(fd, (uid_t)uid, (gid_t)gid) < 0) return throw_errno(env, errno, "fchown", NULL);
  return undef(env);
}

static napi_value Fchmod(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS];
  int32_t fd, mode;
  if (!get_args(env, info, 2, argv) || !get_i32(env, argv[0], &fd) || !get_i32(env, argv[1], &mode)) return NULL;
  if (fchmod(fd, (mode_t)mode) < 0) return throw_errno(env, errno, "fchmod", NULL);
  return undef(env);
}

static napi_value Futimens(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS];
  int32_t fd;
  int64_t as, an, ms, mn;
  if (!get_args(env, info, 5, argv) || !get_i32(env, argv[0], &fd) || !get_i64(env, argv[1], &as) || !get_i64(env, argv[2], &an) || !get_i64(env, argv[3], &ms) || !get_i64(env, argv[4], &mn)) return NULL;
  struct timespec ts[2] = {{(time_t)as, (long)an}, {(time_t)ms, (long)mn}};
  if (futimens(fd, ts) < 0) return throw_errno(env, errno, "futimens", NULL);
  return undef(env);
}

// listDir(dirFd): the entry names (without . and ..) as Buffers, read through a fresh fd so the
// caller's fd (O_PATH or not) and its offset are untouched.
static napi_value ListDir(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS];
  int32_t fd;
  if (!get_args(env, info, 1, argv) || !get_i32(env, argv[0], &fd)) return NULL;
  int dfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
  if (dfd < 0) return throw_errno(env, errno, "openat", ".");
  DIR *d = fdopendir(dfd);
  if (!d) {
    int e = errno;
    close(dfd);
    return throw_errno(env, e, "fdopendir", NULL);
  }
  napi_value arr;
  napi_create_array(env, &arr);
  uint32_t i = 0;
  for (;;) {
    errno = 0;
    struct dirent *de = readdir(d);
    if (!de) {
      if (errno != 0) {
        int e = errno;
        closedir(d);
        return throw_errno(env, e, "readdir", NULL);
      }
      break;
    }
    if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) continue;
    napi_value b;
    napi_create_buffer_copy(env, strlen(de->d_name), de->d_name, NULL, &b);
    napi_set_element(env, arr, i++, b);
  }
  closedir(d);
  return arr;
}

// mount(source, target, fstype, flags, data): mount(2) as is (source "" for none).
static napi_value Mount(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS];
  char src[NAME_MAX_BYTES], tgt[NAME_MAX_BYTES], type[256], data[NAME_MAX_BYTES];
  int64_t flags;
  if (!get_args(env, info, 5, argv) || !get_path(env, argv[0], src, sizeof src) || !get_path(env, argv[1], tgt, sizeof tgt) || !get_path(env, argv[2], type, sizeof type) || !get_i64(env, argv[3], &flags) || !get_path(env, argv[4], data, sizeof data)) return NULL;
  if (mount(src[0] ? src : NULL, tgt, type[0] ? type : NULL, (unsigned long)flags, data[0] ? data : NULL) < 0) return throw_errno(env, errno, "mount", tgt);
  return undef(env);
}

static napi_value Umount2(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS];
  char tgt[NAME_MAX_BYTES];
  int32_t flags;
  if (!get_args(env, info, 2, argv) || !get_path(env, argv[0], tgt, sizeof tgt) || !get_i32(env, argv[1], &flags)) return NULL;
  if (umount2(tgt, flags) < 0) return throw_errno(env, errno, "umount2", tgt);
  return undef(env);
}

static napi_value CloseFd(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS];
  int32_t fd;
  if (!get_args(env, info, 1, argv) || !get_i32(env, argv[0], &fd)) return NULL;
  if (close(fd) < 0) return throw_errno(env, errno, "close", NULL);
  return undef(env);
}

// ---------------------------------------------------------------- sockets in a network namespace

struct netns_job {
  int nsfd;
  // 0: the listeners (a bound UDP socket and a listening TCP one); 1: one UDP socket bound to a
  // free port; 2: one unconnected TCP socket (the upstream exchanges of the embedded DNS).
  int client;
  struct sockaddr_in addr;
  int backlog;
  int udp, tcp;
  int err;
  const char *syscall;
};

static int job_fail(struct netns_job *j, const char *syscall) {
  j->err = errno;
  j->syscall = syscall;
  return -1;
}

// Runs on a thread of its own, which enters the namespace and ends there: setns() changes only
// the calling thread, so the process's other threads (the event loop, libuv's pool) never leave
// the host's namespace, and a socket keeps the namespace it was made in.
static void *netns_worker(void *arg) {
  struct netns_job *j = arg;
  if (setns(j->nsfd, CLONE_NEWNET) < 0) {
    job_fail(j, "setns");
    return NULL;
  }
  if (j->client == 2) {
    j->tcp = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (j->tcp < 0) job_fail(j, "socket");
    return NULL;
  }
  j->udp = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (j->udp < 0) {
    job_fail(j, "socket");
    return NULL;
  }
  if (bind(j->udp, (struct sockaddr *)&j->addr, sizeof j->addr) < 0) {
    job_fail(j, "bind");
    return NULL;
  }
  if (j->client == 1) return NULL;
  j->tcp = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (j->tcp < 0) {
    job_fail(j, "socket");
    return NULL;
  }
  int one = 1;
  if (setsockopt(j->tcp, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0) {
    job_fail(j, "setsockopt");
    return NULL;
  }
  if (bind(j->tcp, (struct sockaddr *)&j->addr, sizeof j->addr) < 0) {
    job_fail(j, "bind");
    return NULL;
  }
  if (listen(j->tcp, j->backlog) < 0) job_fail(j, "listen");
  return NULL;
}

struct netns_request {
  napi_async_work work;
  napi_deferred deferred;
  char path[NAME_MAX_BYTES];
  struct netns_job job;
};

// On a libuv pool thread: the namespace is entered by a thread of our own, never the pool's (its
// threads also run getaddrinfo, which must stay in the host's namespace).
static void netns_execute(napi_env env, void *data) {
  struct netns_request *r = data;
  struct netns_job *j = &r->job;
  j->nsfd = open(r->path, O_RDONLY | O_CLOEXEC);
  if (j->nsfd < 0) {
    job_fail(j, "open");
    return;
  }
  pthread_t th;
  int rc = pthread_create(&th, NULL, netns_worker, j);
  if (rc != 0) {
    j->err = rc;
    j->syscall = "pthread_create";
  } else {
    pthread_join(th, NULL);
  }
  close(j->nsfd);
  if (j->err != 0) {
    if (j->udp >= 0) close(j->udp);
    if (j->tcp >= 0) close(j->tcp);
  }
}

static void netns_complete(napi_env env, napi_status status, void *data) {
  struct netns_request *r = data;
  if (status != napi_ok) {
    napi_reject_deferred(env, r->deferred, errno_error(env, ECANCELED, "listenInNetns", r->path));
  } else if (r->job.err != 0) {
    napi_reject_deferred(env, r->deferred, errno_error(env, r->job.err, r->job.syscall, r->path));
  } else if (r->job.client != 0) {
    napi_resolve_deferred(env, r->deferred, num(env, r->job.client == 1 ? r->job.udp : r->job.tcp));
  } else {
    napi_value out;
    napi_create_array_with_length(env, 2, &out);
    napi_set_element(env, out, 0, num(env, r->job.udp));
    napi_set_element(env, out, 1, num(env, r->job.tcp));
    napi_resolve_deferred(env, r->deferred, out);
  }
  napi_delete_async_work(env, r->work);
  free(r);
}

// listenInNetns(netnsPath, ipv4, port, backlog) -> Promise<[udpFd, tcpFd]>: a UDP socket bound to
// ip:port and a TCP socket listening on ip:port, both inside the network namespace at netnsPath
// (non-blocking, close-on-exec); port 0 gives each its own free port. The event loop never waits
// for the namespace switch.
static napi_value ListenInNetns(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS];
  char ip[64];
  size_t iplen;
  int32_t port, backlog;
  struct netns_request *r = calloc(1, sizeof *r);
  if (!r) return throw_errno(env, ENOMEM, "listenInNetns", NULL);
  if (!get_args(env, info, 4, argv) || !get_path(env, argv[0], r->path, sizeof r->path) || !get_i32(env, argv[2], &port) || !get_i32(env, argv[3], &backlog)) {
    free(r);
    return NULL;
  }
  if (napi_get_value_string_utf8(env, argv[1], ip, sizeof ip, &iplen) != napi_ok) {
    free(r);
    napi_throw_type_error(env, NULL, "expected an address string");
    return NULL;
  }
  r->job = (struct netns_job){.nsfd = -1, .client = 0, .backlog = backlog, .udp = -1, .tcp = -1, .err = 0, .syscall = NULL};
  r->job.addr.sin_family = AF_INET;
  if (port < 0 || port > 65535 || inet_pton(AF_INET, ip, &r->job.addr.sin_addr) != 1) {
    free(r);
    napi_throw_type_error(env, NULL, "invalid IPv4 address or port");
    return NULL;
  }
  r->job.addr.sin_port = htons((uint16_t)port);
  napi_value promise, name;
  napi_create_promise(env, &r->deferred, &promise);
  napi_create_string_utf8(env, "listenInNetns", NAPI_AUTO_LENGTH, &name);
  if (napi_create_async_work(env, NULL, name, netns_execute, netns_complete, r, &r->work) != napi_ok || napi_queue_async_work(env, r->work) != napi_ok) {
    napi_reject_deferred(env, r->deferred, errno_error(env, EAGAIN, "listenInNetns", r->path));
    free(r);
  }
  return promise;
}

// socketInNetns(netnsPath, tcp) -> Promise<fd>: a socket made inside the network namespace at
// netnsPath (non-blocking, close-on-exec), for an exchange that must leave from there: UDP bound to
// a free port of 0.0.0.0, or TCP unconnected. The socket keeps that namespace whoever uses it.
static napi_value SocketInNetns(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS];
  bool tcp = false;
  struct netns_request *r = calloc(1, sizeof *r);
  if (!r) return throw_errno(env, ENOMEM, "socketInNetns", NULL);
  if (!get_args(env, info, 2, argv) || !get_path(env, argv[0], r->path, sizeof r->path)) {
    free(r);
    return NULL;
  }
  if (napi_get_value_bool(env, argv[1], &tcp) != napi_ok) {
    free(r);
    napi_throw_type_error(env, NULL, "expected a boolean");
    return NULL;
  }
  r->job = (struct netns_job){.nsfd = -1, .client = tcp ? 2 : 1, .backlog = 0, .udp = -1, .tcp = -1, .err = 0, .syscall = NULL};
  r->job.addr.sin_family = AF_INET;
  r->job.addr.sin_addr.s_addr = htonl(INADDR_ANY);
  r->job.addr.sin_port = 0;
  napi_value promise, name;
  napi_create_promise(env, &r->deferred, &promise);
  napi_create_string_utf8(env, "socketInNetns", NAPI_AUTO_LENGTH, &name);
  if (napi_create_async_work(env, NULL, name, netns_execute, netns_complete, r, &r->work) != napi_ok || napi_queue_async_work(env, r->work) != napi_ok) {
    napi_reject_deferred(env, r->deferred, errno_error(env, EAGAIN, "socketInNetns", r->path));
    free(r);
  }
  return promise;
}

static void export_fn(napi_env env, napi_value exports, const char *name, napi_callback cb) {
  napi_value fn;
  napi_create_function(env, name, NAPI_AUTO_LENGTH, cb, NULL, &fn);
  napi_set_named_property(env, exports, name, fn);
}

static void export_const(napi_env env, napi_value obj, const char *name, double v) {
  napi_set_named_property(env, obj, name, num(env, v));
}

static void register_xattr(napi_env env, napi_value exports);
static void register_flock(napi_env env, napi_value exports);

NAPI_MODULE_INIT() {
  register_xattr(env, exports);
  register_flock(env, exports);
  export_fn(env, exports, "listenInNetns", ListenInNetns);
  export_fn(env, exports, "socketInNetns", SocketInNetns);
  export_fn(env, exports, "openRoot", OpenRoot);
  export_fn(env, exports, "openInRoot", OpenInRoot);
  export_fn(env, exports, "openBeneath", OpenBeneath);
  export_fn(env, exports, "mkdirAt", MkdirAt);
  export_fn(env, exports, "unlinkAt", UnlinkAt);
  export_fn(env, exports, "symlinkAt", SymlinkAt);
  export_fn(env, exports, "linkAt", LinkAt);
  export_fn(env, exports, "mknodAt", MknodAt);
  export_fn(env, exports, "renameAt", RenameAt);
  export_fn(env, exports, "readlinkAt", ReadlinkAt);
  export_fn(env, exports, "fstatAt", FstatAt);
  export_fn(env, exports, "fchownAt", FchownAt);
  export_fn(env, exports, "fchmodAt", FchmodAt);
  export_fn(env, exports, "utimensAt", UtimensAt);
  export_fn(env, exports, "fchown", Fchown);
  export_fn(env, exports, "fchmod", Fchmod);
  export_fn(env, exports, "futimens", Futimens);
  export_fn(env, exports, "listDir", ListDir);
  export_fn(env, exports, "mount", Mount);
  export_fn(env, exports, "umount2", Umount2);
  export_fn(env, exports, "closeFd", CloseFd);
  napi_value c;
  napi_create_object(env, &c);
  export_const(env, c, "O_PATH", O_PATH);
  export_const(env, c, "O_DIRECTORY", O_DIRECTORY);
  export_const(env, c, "O_NOFOLLOW", O_NOFOLLOW);
  export_const(env, c, "O_NONBLOCK", O_NONBLOCK);
  export_const(env, c, "O_CLOEXEC", O_CLOEXEC);
  export_const(env, c, "MS_RDONLY", MS_RDONLY);
  export_const(env, c, "MS_NOSUID", MS_NOSUID);
  export_const(env, c, "MS_NODEV", MS_NODEV);
  export_const(env, c, "MS_NOEXEC", MS_NOEXEC);
  export_const(env, c, "MS_REMOUNT", MS_REMOUNT);
  export_const(env, c, "MS_BIND", MS_BIND);
  export_const(env, c, "MS_REC", MS_REC);
  export_const(env, c, "MS_PRIVATE", MS_PRIVATE);
  export_const(env, c, "MS_SLAVE", MS_SLAVE);
  export_const(env, c, "MNT_DETACH", MNT_DETACH);
  export_const(env, c, "MNT_FORCE", MNT_FORCE);
  export_const(env, c, "UMOUNT_NOFOLLOW", UMOUNT_NOFOLLOW);
  napi_set_named_property(env, exports, "constants", c);
  return exports;
}

// ---- Extended attributes (copy-up keeps them, as `cp -a` and dockerd do). The l* calls never
// follow the final component: callers name entries as /proc/self/fd/<dir>/<name>.
#include <sys/xattr.h>

#define XATTR_BUF (64 * 1024)

// lListXattr(path): the names, NUL-separated, as a Buffer.
static napi_value LListXattr(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS];
  char p[NAME_MAX_BYTES];
  if (!get_args(env, info, 1, argv) || !get_path(env, argv[0], p, sizeof p)) return NULL;
  char *buf = malloc(XATTR_BUF);
  if (!buf) return throw_errno(env, ENOMEM, "llistxattr", p);
  ssize_t len = llistxattr(p, buf, XATTR_BUF);
  if (len < 0) {
    int err = errno;
    free(buf);
    return throw_errno(env, err, "llistxattr", p);
  }
  napi_value out;
  napi_create_buffer_copy(env, (size_t)len, buf, NULL, &out);
  free(buf);
  return out;
}

// lGetXattr(path, name): the value as a Buffer.
static napi_value LGetXattr(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS];
  char p[NAME_MAX_BYTES], n[NAME_MAX_BYTES];
  if (!get_args(env, info, 2, argv) || !get_path(env, argv[0], p, sizeof p) || !get_path(env, argv[1], n, sizeof n)) return NULL;
  char *buf = malloc(XATTR_BUF);
  if (!buf) return throw_errno(env, ENOMEM, "lgetxattr", p);
  ssize_t len = lgetxattr(p, n, buf, XATTR_BUF);
  if (len < 0) {
    int err = errno;
    free(buf);
    return throw_errno(env, err, "lgetxattr", p);
  }
  napi_value out;
  napi_create_buffer_copy(env, (size_t)len, buf, NULL, &out);
  free(buf);
  return out;
}

// lSetXattr(path, name, value: Buffer).
static napi_value LSetXattr(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS];
  char p[NAME_MAX_BYTES], n[NAME_MAX_BYTES];
  if (!get_args(env, info, 3, argv) || !get_path(env, argv[0], p, sizeof p) || !get_path(env, argv[1], n, sizeof n)) return NULL;
  bool isBuf = false;
  napi_is_buffer(env, argv[2], &isBuf);
  if (!isBuf) {
    napi_throw_type_error(env, NULL, "expected a Buffer value");
    return NULL;
  }
  void *data;
  size_t len;
  napi_get_buffer_info(env, argv[2], &data, &len);
  if (lsetxattr(p, n, data, len, 0) < 0) return throw_errno(env, errno, "lsetxattr", p);
  return undef(env);
}

static void register_xattr(napi_env env, napi_value exports) {
  export_fn(env, exports, "lListXattr", LListXattr);
  export_fn(env, exports, "lGetXattr", LGetXattr);
  export_fn(env, exports, "lSetXattr", LSetXattr);
}

// ---- Advisory whole-file locks: the daemon's pidfile and root locks. The kernel drops a flock
// when its holder dies, so ownership needs no PID-liveness guesswork and two starters can never
// both win.
#include <sys/file.h>

// tryLockExclusive(fd): true when this open file now holds LOCK_EX, false when another holds it.
static napi_value TryLockExclusive(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS];
  int32_t fd;
  if (!get_args(env, info, 1, argv) || !get_i32(env, argv[0], &fd)) return NULL;
  int rc;
  do rc = flock(fd, LOCK_EX | LOCK_NB);
  while (rc < 0 && errno == EINTR);
  napi_value out;
  if (rc == 0) {
    napi_get_boolean(env, true, &out);
    return out;
  }
  if (errno == EWOULDBLOCK) {
    napi_get_boolean(env, false, &out);
    return out;
  }
  return throw_errno(env, errno, "flock", NULL);
}

static void register_flock(napi_env env, napi_value exports) {
  export_fn(env, exports, "tryLockExclusive", TryLockExclusive);
}
