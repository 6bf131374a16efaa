/*
 * The death bell (see apps/clock/death-bell.ts): a process-shared robust mutex in a file of the
 * clock's state directory. Its holder locks it on its main thread and never unlocks it while it
 * lives; a waiter blocks on it on a thread of its own. When the holder dies, the kernel releases
 * the mutex (EOWNERDEAD) while it tears the holder's threads down, in exit_mm_release, before it
 * frees the holder's memory and long before it closes the holder's files: the lock socket's close
 * came 5-7 ms after a SIGKILL here, the bell ~0.4 ms after (perf tracepoints).
 */
#define _GNU_SOURCE
#include <node_api.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>
#include <errno.h>
#include <string.h>
#include <stdlib.h>

#define CHECK(env, call) do { if ((call) != napi_ok) { napi_throw_error((env), NULL, #call " failed"); return NULL; } } while (0)

static napi_value throw_errno(napi_env env, const char *what, int err) {
  char message[256];
  snprintf(message, sizeof message, "%s: %s", what, strerror(err));
  napi_throw_error(env, NULL, message);
  return NULL;
}

static int get_path(napi_env env, napi_value value, char *path, size_t size) {
  size_t length;
  return napi_get_value_string_utf8(env, value, path, size, &length) == napi_ok && length < size - 1;
}

typedef struct { pthread_mutex_t *mutex; int fd; } held_t;

static void finalize_held(napi_env env, void *data, void *hint) { (void)env; (void)hint; free(data); }

/* hold(path): creates `path` (owner-only), puts a process-shared robust mutex in it, and locks it on
   the calling thread (the main thread). Returns a handle for release(). */
static napi_value hold(napi_env env, napi_callback_info info) {
  size_t argc = 1; napi_value argv[1]; char path[4096];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1 || !get_path(env, argv[0], path, sizeof path)) { napi_throw_type_error(env, NULL, "hold(path)"); return NULL; }
  int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return throw_errno(env, "open", errno);
  if (ftruncate(fd, sizeof(pthread_mutex_t)) != 0) { int e = errno; close(fd); unlink(path); return throw_errno(env, "ftruncate", e); }
  pthread_mutex_t *mutex = mmap(NULL, sizeof(pthread_mutex_t), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (mutex == MAP_FAILED) { int e = errno; close(fd); unlink(path); return throw_errno(env, "mmap", e); }
  pthread_mutexattr_t attr;
  pthread_mutexattr_init(&attr);
  pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
  pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
  int rc = pthread_mutex_init(mutex, &attr);
  pthread_mutexattr_destroy(&attr);
  if (rc == 0) rc = pthread_mutex_lock(mutex);
  if (rc != 0) { munmap(mutex, sizeof *mutex); close(fd); unlink(path); return throw_errno(env, "pthread_mutex", rc); }
  held_t *held = malloc(sizeof *held);
  held->mutex = mutex; held->fd = fd;
  napi_value handle;
  CHECK(env, napi_create_external(env, held, finalize_held, NULL, &handle));
  return handle;
}

/* release(handle): unlocks (a waiter hears it as the holder letting go) and unmaps. */
static napi_value release(napi_env env, napi_callback_info info) {
  size_t argc = 1; napi_value argv[1]; held_t *held;
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1 || napi_get_value_external(env, argv[0], (void **)&held) != napi_ok || !held->mutex) return NULL;
  pthread_mutex_unlock(held->mutex);
  munmap(held->mutex, sizeof *held->mutex);
  close(held->fd);
  held->mutex = NULL;
  return NULL;
}

typedef struct { pthread_mutex_t *mutex; int fd; napi_threadsafe_function tsfn; } waiting_t;

static void *wait_thread(void *arg) {
  waiting_t *w = arg;
  int rc = pthread_mutex_lock(w->mutex);
  if (rc == EOWNERDEAD) pthread_mutex_consistent(w->mutex);
  if (rc == 0 || rc == EOWNERDEAD) pthread_mutex_unlock(w->mutex);
  napi_call_threadsafe_function(w->tsfn, (void *)(intptr_t)rc, napi_tsfn_nonblocking);
  napi_release_threadsafe_function(w->tsfn, napi_tsfn_release);
  munmap(w->mutex, sizeof *w->mutex);
  close(w->fd);
  free(w);
  return NULL;
}

static void call_js(napi_env env, napi_value callback, void *context, void *data) {
  (void)context;
  if (!env || !callback) return;
  int rc = (int)(intptr_t)data;
  napi_value undefined, argv[1];
  napi_get_undefined(env, &undefined);
  napi_get_boolean(env, rc == EOWNERDEAD, &argv[0]);
  napi_call_function(env, undefined, callback, 1, argv, NULL);
}

/* wait(path, callback): on a thread of its own, waits for the holder of the bell at `path` to die
   (callback(true): the kernel released its robust mutex) or let go (callback(false)). */
static napi_value wait_for(napi_env env, napi_callback_info info) {
  size_t argc = 2; napi_value argv[2]; char path[4096];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2 || !get_path(env, argv[0], path, sizeof path)) { napi_throw_type_error(env, NULL, "wait(path, callback)"); return NULL; }
  int fd = open(path, O_RDWR | O_CLOEXEC);
  if (fd < 0) return throw_errno(env, "open", errno);
  struct stat st;
  if (fstat(fd, &st) != 0 || st.st_size < (off_t)sizeof(pthread_mutex_t)) { close(fd); return throw_errno(env, "not a bell", EINVAL); }
  pthread_mutex_t *mutex = mmap(NULL, sizeof(pthread_mutex_t), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (mutex == MAP_FAILED) { int e = errno; close(fd); return throw_errno(env, "mmap", e); }
  waiting_t *w = malloc(sizeof *w);
  w->mutex = mutex; w->fd = fd;
  napi_value name;
  napi_create_string_utf8(env, "death bell", NAPI_AUTO_LENGTH, &name);
  if (napi_create_threadsafe_function(env, argv[1], NULL, name, 0, 1, NULL, NULL, NULL, call_js, &w->tsfn) != napi_ok) {
    munmap(mutex, sizeof *mutex); close(fd); free(w); napi_throw_error(env, NULL, "napi_create_threadsafe_function failed"); return NULL;
  }
  napi_unref_threadsafe_function(env, w->tsfn);
  pthread_t thread; pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&attr, 64 * 1024);
  int rc = pthread_create(&thread, &attr, wait_thread, w);
  pthread_attr_destroy(&attr);
  if (rc != 0) { napi_release_threadsafe_function(w->tsfn, napi_tsfn_abort); munmap(mutex, sizeof *mutex); close(fd); free(w); return throw_errno(env, "pthread_create", rc); }
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    { "hold", NULL, hold, NULL, NULL, NULL, napi_default, NULL },
    { "release", NULL, release, NULL, NULL, NULL, napi_default, NULL },
    { "wait", NULL, wait_for, NULL, NULL, NULL, napi_default, NULL },
  };
  napi_define_properties(env, exports, 3, props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
