// fenhe's own script, loaded by every page (the CSP allows no inline script, so behaviour lives
// here and finds its elements by attribute).
"use strict";

document.addEventListener("DOMContentLoaded", function () {
  // The password form: say at once that the two new passwords differ (the server checks too).
  var repeat = document.querySelector("input[name=repeat]");
  var fresh = document.querySelector("input[name=new]");
  if (repeat && fresh) {
    var check = function () {
      repeat.setCustomValidity(repeat.value && repeat.value !== fresh.value ? repeat.dataset.mismatch || "≠" : "");
    };
    repeat.addEventListener("input", check);
    fresh.addEventListener("input", check);
  }
});
