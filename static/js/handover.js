// Showroom handover: scan the shopper's QR code with the device camera where the browser can read barcodes
// (BarcodeDetector); typing the code always works. The code found is put in the form and the form is sent.
(function () {
  "use strict";
  var CODE = /\b([RQT])-?([0-9A-Z]{6})\b/;

  function start() {
    var button = document.querySelector("[data-scan]");
    var form = document.getElementById("handover-form");
    if (!button || !form || !("BarcodeDetector" in window) || !navigator.mediaDevices) return;
    button.hidden = false;
    button.addEventListener("click", function () {
      var box = document.querySelector("[data-scan-box]");
      var video = document.querySelector("[data-scan-video]");
      var status = document.querySelector("[data-scan-status]");
      var detector = new window.BarcodeDetector({ formats: ["qr_code"] });
      box.hidden = false;
      navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } }).then(function (stream) {
        video.srcObject = stream;
        video.play();
        function look() {
          detector.detect(video).then(function (codes) {
            var text = codes.length ? decodeURIComponent(codes[0].rawValue).toUpperCase() : "";
            var match = CODE.exec(text);
            if (match) {
              stream.getTracks().forEach(function (t) { t.stop(); });
              form.querySelector("input[name=code]").value = match[1] + "-" + match[2];
              form.submit();
            } else {
              window.requestAnimationFrame(look);
            }
          }).catch(function () { window.setTimeout(look, 300); });
        }
        look();
      }).catch(function () {
        status.textContent = button.getAttribute("data-denied") || status.textContent;
      });
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
