// A stand-in for the parts of mongosh and a MongoDB server that user management touches, to run our rotation
// program (components/rotation_programs/rotate-mongodb.js) unchanged without a server:
//   node mongosh-users.js <program> <state.json>
// state.json: {"users": {"<db>": {"<user>": {"pwd": "...", "roles": [...]}}}, "unreachable": false}. Logins check
// the passwords there; every change is written back to state.json, so a test sees what the program left behind.
// Not modelled: anything but password logins and user documents (no replication, no wire protocol).
"use strict";
const fs = require("fs");
const vm = require("vm");

const [program, stateFile] = process.argv.slice(2);
const state = JSON.parse(fs.readFileSync(stateFile, "utf8"));
const save = () => fs.writeFileSync(stateFile, JSON.stringify(state, null, 2));

class AuthenticationFailed extends Error {}

class Mongo {
  constructor(uri) {
    if (state.unreachable) throw new Error(`MongoNetworkError: connect ECONNREFUSED (${uri})`);
    this.authenticated = null;
  }
  getDB(name) {
    const connection = this;
    const users = () => (state.users[name] = state.users[name] || {});
    const requireRoot = () => {
      if (connection.authenticated !== "admin/root") throw new Error("MongoServerError: requires authentication");
    };
    return {
      auth(user, pwd) {
        const known = users()[user];
        if (!known || known.pwd !== pwd) throw new AuthenticationFailed("MongoServerError: Authentication failed.");
        connection.authenticated = `${name}/${user}`;
        return { ok: 1 };
      },
      getUser(user) {
        requireRoot();
        return users()[user] ? { user, roles: users()[user].roles } : null;
      },
      createUser({ user, pwd, roles }) {
        requireRoot();
        if (users()[user]) throw new Error(`MongoServerError: User "${user}@${name}" already exists`);
        users()[user] = { pwd, roles };
        save();
      },
      updateUser(user, { pwd, roles }) {
        requireRoot();
        users()[user] = { pwd, roles: roles || users()[user].roles };
        save();
      },
      changeUserPassword(user, pwd) {
        requireRoot();
        users()[user].pwd = pwd;
        save();
      },
    };
  }
}

let exitCode = 0;
const context = {
  process: { env: process.env },
  Mongo,
  print: (...args) => console.log(...args),
  sleep: () => {},
  parseInt,
  quit: (code) => {
    exitCode = code || 0;
    throw { quit: true };
  },
};
try {
  vm.runInNewContext(fs.readFileSync(program, "utf8"), context, { filename: program });
} catch (error) {
  if (!error || !error.quit) {
    console.error(String(error && error.message ? error.message : error));
    exitCode = 1;
  }
}
process.exit(exitCode);
