// A small in-memory file system with the Node-style callback API that Go's
// syscall package uses on js/wasm. The worker installs it before
// wasm_exec.js, so that webfmt.Convert can write a converted model's shards
// and manifest "to disk"; worker.js then reads them out of MEMFS.files and
// stores them in Cache Storage. Console output (fds 1 and 2) goes to the
// console as wasm_exec.js's default does.
"use strict";
(() => {
	const files = new Map(); // path → {data: Uint8Array, size}
	const dirs = new Set(["/"]);
	const fds = new Map(); // fd → {path, pos, append}
	let nextFd = 3;
	const decoder = new TextDecoder("utf-8");
	let outBuf = "";
	let fatalLine = "";

	const C = { O_WRONLY: 1, O_RDWR: 2, O_CREAT: 64, O_EXCL: 128, O_TRUNC: 512, O_APPEND: 1024, O_DIRECTORY: 65536 };
	const err = (code) => { const e = new Error(code); e.code = code; return e; };
	const norm = (p) => {
		const out = [];
		for (const part of String(p).split("/")) {
			if (part === "" || part === ".") continue;
			if (part === "..") out.pop(); else out.push(part);
		}
		return "/" + out.join("/");
	};
	const parent = (p) => norm(p).replace(/\/[^/]*$/, "") || "/";
	const stat = (isDir, size) => ({
		dev: 1, ino: 1, mode: isDir ? 0o40755 : 0o100644, nlink: 1, uid: 0, gid: 0, rdev: 0,
		size, blksize: 4096, blocks: Math.ceil(size / 512), atimeMs: 0, mtimeMs: 0, ctimeMs: 0,
		isDirectory: () => isDir,
	});
	const grow = (f, n) => {
		if (n <= f.data.length) return;
		const d = new Uint8Array(Math.max(n, f.data.length * 2, 4096));
		d.set(f.data.subarray(0, f.size));
		f.data = d;
	};

	const fs = {
		constants: C,
		writeSync(fd, buf) {
			if (fd === 1 || fd === 2) {
				outBuf += decoder.decode(buf);
				const nl = outBuf.lastIndexOf("\n");
				if (nl !== -1) {
					const lines = outBuf.substring(0, nl);
					console.log(lines);
					outBuf = outBuf.substring(nl + 1);
					// The line that says why the Go runtime stopped, if it did.
					if (fd === 2 && !fatalLine) fatalLine = (/^(fatal error|panic|runtime: out of memory).*$/m.exec(lines) || [""])[0];
				}
				return buf.length;
			}
			const h = fds.get(fd);
			if (!h) throw err("EBADF");
			const f = files.get(h.path);
			const pos = h.append ? f.size : h.pos;
			grow(f, pos + buf.length);
			f.data.set(buf, pos);
			f.size = Math.max(f.size, pos + buf.length);
			h.pos = pos + buf.length;
			return buf.length;
		},
		write(fd, buf, offset, length, position, cb) {
			try {
				const h = fds.get(fd);
				if (position !== null && position !== undefined && h) h.pos = position;
				cb(null, this.writeSync(fd, buf.subarray(offset, offset + length)));
			} catch (e) { cb(e); }
		},
		read(fd, buf, offset, length, position, cb) {
			const h = fds.get(fd);
			if (!h) return cb(err("EBADF"));
			const f = files.get(h.path);
			const pos = position !== null && position !== undefined ? position : h.pos;
			const n = Math.max(0, Math.min(length, f.size - pos));
			buf.set(f.data.subarray(pos, pos + n), offset);
			if (position === null || position === undefined) h.pos = pos + n;
			cb(null, n);
		},
		open(path, flags, mode, cb) {
			path = norm(path);
			if (dirs.has(path)) {
				const fd = nextFd++;
				fds.set(fd, { path, pos: 0, dir: true });
				return cb(null, fd);
			}
			let f = files.get(path);
			if (f && (flags & C.O_CREAT) && (flags & C.O_EXCL)) return cb(err("EEXIST"));
			if (!f) {
				if (!(flags & C.O_CREAT)) return cb(err("ENOENT"));
				if (!dirs.has(parent(path))) return cb(err("ENOENT"));
				f = { data: new Uint8Array(0), size: 0 };
				files.set(path, f);
			}
			if (flags & C.O_TRUNC) f.size = 0;
			const fd = nextFd++;
			fds.set(fd, { path, pos: 0, append: !!(flags & C.O_APPEND) });
			cb(null, fd);
		},
		close(fd, cb) { fds.delete(fd); cb(null); },
		fsync(fd, cb) { cb(null); },
		fstat(fd, cb) {
			const h = fds.get(fd);
			if (!h) return cb(err("EBADF"));
			if (h.dir) return cb(null, stat(true, 0));
			cb(null, stat(false, files.get(h.path).size));
		},
		stat(path, cb) {
			path = norm(path);
			if (dirs.has(path)) return cb(null, stat(true, 0));
			const f = files.get(path);
			if (!f) return cb(err("ENOENT"));
			cb(null, stat(false, f.size));
		},
		lstat(path, cb) { this.stat(path, cb); },
		mkdir(path, perm, cb) {
			path = norm(path);
			if (dirs.has(path) || files.has(path)) return cb(err("EEXIST"));
			if (!dirs.has(parent(path))) return cb(err("ENOENT"));
			dirs.add(path);
			cb(null);
		},
		readdir(path, cb) {
			path = norm(path);
			if (!dirs.has(path)) return cb(err("ENOENT"));
			const prefix = path === "/" ? "/" : path + "/";
			const names = [];
			for (const p of [...files.keys(), ...dirs]) {
				if (p !== path && p.startsWith(prefix) && !p.slice(prefix.length).includes("/")) names.push(p.slice(prefix.length));
			}
			cb(null, names);
		},
		rename(from, to, cb) {
			from = norm(from); to = norm(to);
			const f = files.get(from);
			if (!f) return cb(err("ENOENT"));
			files.delete(from);
			files.set(to, f);
			cb(null);
		},
		unlink(path, cb) { cb(files.delete(norm(path)) ? null : err("ENOENT")); },
		rmdir(path, cb) { cb(dirs.delete(norm(path)) ? null : err("ENOENT")); },
		ftruncate(fd, length, cb) {
			const h = fds.get(fd);
			if (!h) return cb(err("EBADF"));
			const f = files.get(h.path);
			grow(f, length);
			f.size = length;
			cb(null);
		},
		truncate(path, length, cb) {
			const f = files.get(norm(path));
			if (!f) return cb(err("ENOENT"));
			grow(f, length);
			f.size = length;
			cb(null);
		},
		chmod(path, mode, cb) { cb(null); },
		fchmod(fd, mode, cb) { cb(null); },
		chown(path, uid, gid, cb) { cb(null); },
		fchown(fd, uid, gid, cb) { cb(null); },
		lchown(path, uid, gid, cb) { cb(null); },
		utimes(path, atime, mtime, cb) { cb(null); },
		link(path, link, cb) { cb(err("ENOSYS")); },
		symlink(path, link, cb) { cb(err("ENOSYS")); },
		readlink(path, cb) { cb(err("EINVAL")); },
	};

	globalThis.fs = fs;
	globalThis.MEMFS = {
		// file returns the bytes of a file written by Go, or undefined.
		file(path) {
			const f = files.get(norm(path));
			return f && f.data.subarray(0, f.size);
		},
		remove(path) { files.delete(norm(path)); },
		// fatal is the first "fatal error: …" or "panic: …" line the Go
		// runtime wrote, or "".
		fatal() { return fatalLine; },
	};
})();
