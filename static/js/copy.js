// Copy buttons: <button data-copy="ID" hidden> copies the value of the field with that id.
// The button stays hidden without JavaScript (or a clipboard); the field is readonly and can
// be selected and copied by hand.
(function () {
  "use strict";

  function say(button, text) {
    const status = button.closest(".copy-field")?.nextElementSibling;
    if (status && status.classList.contains("copy-status")) {
      status.textContent = text;
    }
  }

  function setUp() {
    document.querySelectorAll("input[data-select-on-focus]").forEach(function (field) {
      field.addEventListener("focus", function () {
        field.select();
      });
    });
    if (!navigator.clipboard) {
      return;
    }
    document.querySelectorAll("button[data-copy]").forEach(function (button) {
      const field = document.getElementById(button.dataset.copy);
      if (!field) {
        return;
      }
      button.hidden = false;
      button.addEventListener("click", function () {
        navigator.clipboard.writeText(field.value).then(
          function () {
            say(button, "Copied. Paste it into your calendar app.");
          },
          function () {
            field.select();
            say(button, "Select the link and copy it.");
          }
        );
      });
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", setUp);
  } else {
    setUp();
  }
})();
