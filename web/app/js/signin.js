// Sign in, then go to the view for the user's role (the role only picks the page; the server enforces access).
import { $, fill, h } from './dom.js';
import { Parse, myRoles, setup } from './session.js';

async function landingPage() {
  const roles = await myRoles();
  return roles.has('Provider') ? 'provider.html' : 'patient.html';
}

async function onSubmit(event) {
  event.preventDefault();
  const status = $('#sign-in-status');
  const username = $('#username').value.trim();
  const password = $('#password').value;
  if (!username || !password) {
    fill(status, h('span', { class: 'error', text: 'Enter your username and password.' }));
    return;
  }
  fill(status, 'Signing in…');
  try {
    await setup();
    await Parse.User.logIn(username, password);
    window.location.assign(await landingPage());
  } catch (error) {
    // Parse answers 101 for a wrong username or password alike; say nothing more specific.
    fill(status, h('span', { class: 'error', text: error.code === 101 ? 'Wrong username or password.' : error.message }));
    $('#password').focus();
  }
}

async function start() {
  $('#sign-in').addEventListener('submit', onSubmit);
  await setup();
  const user = Parse.User.current();
  if (user) {
    try {
      window.location.assign(await landingPage());
    } catch (_error) {
      await Parse.User.logOut().catch(() => {}); // a dead session: stay here, signed out
    }
  }
}

start();
