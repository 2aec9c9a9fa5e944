// A stand-in for mongosh's globals (connect, db, rs, printjson), to run our replica-set scripts' logic
// without a MongoDB server: node mongosh.js <script> <scenario.json>. The script runs unchanged in a vm
// context; every call it makes to the server is recorded and printed as JSON.
//   scenario: {"status": {...replSetGetStatus reply}, "writablePrimary": bool, "members": [host, ...]}
"use strict";
const fs = require("fs");
const vm = require("vm");

const [script, scenarioFile] = process.argv.slice(2);
const scenario = JSON.parse(fs.readFileSync(scenarioFile, "utf8"));
const calls = [];
const record = (name) => (...args) => {
  calls.push({ call: name, args });
  return { ok: 1 };
};
const database = (name) => ({
  name,
  adminCommand: (command) => {
    calls.push({ call: "adminCommand", args: [command] });
    return scenario.status;
  },
  hello: () => ({ isWritablePrimary: scenario.writablePrimary }),
  getSiblingDB: (sibling) => {
    calls.push({ call: "getSiblingDB", args: [sibling] });
    return database(sibling);
  },
  createUser: (user) => {
    calls.push({ call: "createUser", db: name, args: [user] });
    return { ok: 1 };
  },
});
const context = {
  process: { env: process.env },
  db: database("test"),
  connect: (uri) => {
    calls.push({ call: "connect", args: [uri] });
    return database("admin");
  },
  rs: {
    initiate: record("rs.initiate"),
    add: record("rs.add"),
    conf: () => ({ members: (scenario.members || []).map((host) => ({ host })) }),
  },
  printjson: () => {},
  encodeURIComponent,
  parseInt,
  Set,
};
vm.runInNewContext(fs.readFileSync(script, "utf8"), context, { filename: script });
process.stdout.write(JSON.stringify(calls));
