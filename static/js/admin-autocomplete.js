// The admin's autocomplete boxes (select2) announce only the chosen value, and
// nothing before a choice: name each one after its field's <label> as well.
// Django's autocomplete.js builds the boxes in a jQuery "ready" handler, which
// jQuery runs from a timer: ours is queued after it, once the page has loaded.
function nameAutocompleteBoxes() {
  document.querySelectorAll("select.admin-autocomplete").forEach(function (select) {
    var label = document.querySelector('label[for="' + select.id + '"]');
    var box = select.nextElementSibling;
    var selection = box && box.querySelector(".select2-selection");
    if (!label || !selection) {
      return;
    }
    if (!label.id) {
      label.id = select.id + "_label";
    }
    var rendered = selection.querySelector(".select2-selection__rendered");
    if (rendered && rendered.id) {
      // select2 gives the chosen value's box a role of its own, unnamed too.
      rendered.setAttribute("aria-labelledby", label.id);
      selection.setAttribute("aria-labelledby", label.id + " " + rendered.id);
    } else {
      selection.setAttribute("aria-labelledby", label.id);
    }
  });
}

window.addEventListener("load", function () {
  window.setTimeout(nameAutocompleteBoxes, 0);
});
