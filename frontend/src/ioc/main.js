import "./ioc.css";
