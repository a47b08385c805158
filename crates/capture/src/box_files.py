# A box's file operations (GBOX's `fs`), run by capture's box_files.rs inside the box's sandbox
# as the session's user: the kernel and the sandbox decide what may be read or written, never
# the server.
#
# argv[1] is the request as JSON: {"op", "cwd", "path", "new_path", "depth", "max_bytes",
# "max_entries"}; a write's content comes on stdin. A read answers the file's bytes on stdout;
# every other operation answers one JSON value. Any failure exits 3 with
# {"error": kind, "message": text} on stdout, kind being not_found, exists, denied, too_large
# or invalid.
import datetime
import errno
import json
import os
import shutil
import stat
import sys


class Refused(Exception):
    def __init__(self, kind, message):
        super().__init__(message)
        self.kind = kind


def entry(path, st=None):
    st = st or os.stat(path)
    is_dir = stat.S_ISDIR(st.st_mode)
    modified = datetime.datetime.fromtimestamp(st.st_mtime, datetime.timezone.utc)
    found = {
        "name": os.path.basename(path) or "/",
        "path": path,
        "type": "dir" if is_dir else "file",
        "mode": stat.filemode(st.st_mode),
        "lastModified": modified.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
    }
    if not is_dir:
        found["size"] = str(st.st_size)
    return found


def listing(root, depth, max_entries):
    if not os.path.isdir(root):
        raise Refused("invalid", f"{root} is not a directory")
    found = []
    level = [root]
    for _ in range(depth):
        deeper = []
        for directory in level:
            with os.scandir(directory) as children:
                for child in sorted(children, key=lambda c: c.name):
                    if len(found) == max_entries:
                        raise Refused(
                            "too_large",
                            f"{root} holds more than {max_entries} entries at depth {depth}: "
                            "list a narrower directory or a smaller depth",
                        )
                    try:
                        st = child.stat()
                    except FileNotFoundError:  # a dangling link is listed as itself
                        st = child.stat(follow_symlinks=False)
                    found.append(entry(child.path, st))
                    if child.is_dir(follow_symlinks=False):
                        deeper.append(child.path)
        level = deeper
    return {"data": found}


def read(path, max_bytes):
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size > max_bytes:
            raise Refused(
                "too_large", f"{path} is {size} bytes; files read here are at most {max_bytes}"
            )
        sys.stdout.buffer.write(f.read(max_bytes))


def write(path, content):
    if os.path.isdir(path):
        raise Refused("exists", f"{path} is a directory")
    parent = os.path.dirname(path)
    os.makedirs(parent, exist_ok=True)
    # Written beside and renamed over, so a reader never sees half a file.
    part = os.path.join(parent, f".{os.path.basename(path)}.{os.getpid()}.part")
    with open(part, "wb") as f:
        f.write(content)
    os.replace(part, path)
    return entry(path)


def rename(old, new):
    if os.path.lexists(new):
        raise Refused("exists", f"{new} already exists")
    os.rename(old, new)
    return entry(new)


def remove(path):
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    else:
        os.unlink(path)
    return {"message": f"{path} removed"}


def exists(path):
    try:
        found = entry(path)
    except FileNotFoundError:
        return {"exists": False}
    return {"exists": True, "type": found["type"]}


def main():
    request = json.loads(sys.argv[1])
    resolve = lambda p: os.path.normpath(os.path.join(request["cwd"], p))
    path = resolve(request["path"])
    op = request["op"]
    if op == "read":
        read(path, request["max_bytes"])
        return
    if op == "list":
        answer = listing(path, request["depth"], request["max_entries"])
    elif op == "info":
        answer = entry(path)
    elif op == "exists":
        answer = exists(path)
    elif op == "write":
        answer = write(path, sys.stdin.buffer.read())
    elif op == "rename":
        answer = rename(path, resolve(request["new_path"]))
    elif op == "remove":
        answer = remove(path)
    else:
        raise Refused("invalid", f"unknown operation {op!r}")
    json.dump(answer, sys.stdout)


def refusal(e):
    if isinstance(e, Refused):
        return e.kind, str(e)
    name = f" {e.filename}" if getattr(e, "filename", None) else ""
    if isinstance(e, FileNotFoundError):
        return "not_found", str(e.filename)  # the message is the path: "file not found: <path>"
    if isinstance(e, FileExistsError):
        return "exists", f"already exists:{name}"
    if isinstance(e, PermissionError) or getattr(e, "errno", None) in (errno.EROFS, errno.EPERM):
        return "denied", f"the box may not do this:{name} ({e.strerror})"
    if isinstance(e, OSError):
        return "invalid", f"{e.strerror}:{name}"
    return "invalid", str(e)


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # every failure is answered, never a traceback
        kind, message = refusal(e)
        json.dump({"error": kind, "message": message}, sys.stdout)
        sys.exit(3)
