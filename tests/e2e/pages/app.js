document.title = "subresources loaded";
